import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startMosquitto } from '../../hub/broker/mosquitto-process.js';
import { hubPasswordHash, writeNatsBrokerAuth } from '../../hub/broker/nats-auth.js';
import { type NatsClusterProcess, startNatsCluster } from '../../hub/broker/nats-process.js';
import { type HubStore, openPostgresHubStore, openSqliteHubStore, writeBrokerAuth } from '../../hub/index.js';
import { decodeJoinToken } from '../../shared/index.js';
import { enrollFleet, type FleetDevice } from './credentials.js';
import { type ExactCheck, exactCheck } from './exact-check.js';
import { cpuMsOf, rssOf, startHubProcess } from './hub-process.js';
import { createFleetDatabase, type FleetDatabase } from './pg-database.js';

const HUB_PASSWORD = randomBytes(24).toString('base64url');

export type FleetMode = 'embedded' | 'mosquitto' | 'nats';
export type HubProcess = Awaited<ReturnType<typeof startHubProcess>>;

/** A broker and its hub(s), ready for devices. */
export interface FleetStack {
  /** One hub on SQLite (embedded, mosquitto), or two replicas on PostgreSQL (nats). */
  hubs: HubProcess[];
  /** The admin token of every hub. */
  token: string;
  nats?: NatsClusterProcess;
  /** The run's PostgreSQL database (nats), dropped by `close()`. */
  database?: string;
  /**
   * The MQTT QoS this hub's join tokens give agents (`link.qos`: 0 on NATS, else 1), read
   * from the token of a device enrolled through the admin API for the purpose.
   */
  linkQos: 0 | 1;
  /** The URLs device `i` may use and the one it starts on. */
  deviceUrls(i: number): { urls: readonly string[]; index: number };
  /** RSS of the live hubs and of the broker processes, bytes. */
  rss(): { hub: number; broker: number };
  /**
   * CPU time used so far by the hubs and by the broker processes (none for the embedded
   * broker, which runs in the hub), ms; a killed process counts with its last reading.
   */
  cpu(): { hub: number; broker: number };
  /** The exact check of the stored events (see {@link exactCheck}). */
  check(epoch: string, devices: readonly string[], sent: number): Promise<ExactCheck>;
  close(): Promise<void>;
}

/**
 * Starts `mode`: the embedded broker or Mosquitto with one hub on SQLite; or a three-node NATS
 * cluster with two hub replicas (separate processes) on a fresh PostgreSQL database, sharing
 * the uplink through a NATS queue group. The fleet is enrolled straight into the store first.
 */
export async function startStack(
  mode: FleetMode,
  fleet: readonly FleetDevice[],
  bins: { mosquitto: string; nats: string },
  natsOptions: { consumerReplicas?: number } = {},
): Promise<FleetStack> {
  const dir = await mkdtemp(join(tmpdir(), `outpost-fleet-${mode}-`));
  const token = randomBytes(24).toString('base64url');
  const authDir = join(dir, 'broker');
  let db: FleetDatabase | undefined;
  let nats: NatsClusterProcess | undefined;
  let mosquitto: Awaited<ReturnType<typeof startMosquitto>> | undefined;
  const hubs: HubProcess[] = [];
  // An interrupted run (Ctrl-C, a timeout's SIGTERM) still stops its processes and drops its
  // database instead of leaving them to the machine.
  const onSignal = (signal: NodeJS.Signals) => {
    void close().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const close = async () => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    for (const h of hubs) await h.stop();
    await mosquitto?.stop();
    await nats?.close();
    await db?.drop();
    await rm(dir, { recursive: true, force: true });
  };
  try {
    if (mode === 'nats') db = await createFleetDatabase();
    const store: HubStore = db
      ? await openPostgresHubStore({ url: db.url, max: 4 })
      : openSqliteHubStore(dir);
    try {
      await enrollFleet(store, fleet);
      if (mode === 'mosquitto')
        await writeBrokerAuth(store, {
          dir: authDir,
          hub: { username: 'outpost-hub', password: HUB_PASSWORD },
        });
      if (mode === 'nats') {
        const hash = await hubPasswordHash(HUB_PASSWORD);
        await writeNatsBrokerAuth(store, { dir: authDir, hub: { username: 'outpost-hub', hash } });
      }
    } finally {
      await store.close();
    }
    if (mode === 'mosquitto') mosquitto = await startMosquitto(authDir, bins.mosquitto);
    // Three nodes on this machine; devices spread over them round-robin.
    if (mode === 'nats')
      nats = await startNatsCluster({
        dir: authDir,
        size: 3,
        bin: bins.nats,
        timeoutMs: 60_000,
        ...natsOptions,
      });
    const replicas = mode === 'nats' ? 2 : 1;
    for (let r = 0; r < replicas; r++) {
      const data = join(dir, `hub-${r}`);
      await mkdir(data, { recursive: true });
      hubs.push(
        await startHubProcess({
          OUTPOST_HUB_DATA_DIR: mode === 'nats' ? data : dir,
          OUTPOST_HUB_ADMIN_TOKEN: token,
          OUTPOST_HUB_HTTP__HOST: '127.0.0.1',
          OUTPOST_HUB_HTTP__PORT: '0',
          OUTPOST_HUB_MQTT__HOST: '127.0.0.1',
          OUTPOST_HUB_MQTT__PORT: '0',
          OUTPOST_HUB_LOG_LEVEL: process.env.FLEET_HUB_LOG ?? 'warn',
          ...(mosquitto
            ? { OUTPOST_HUB_BROKER__URL: mosquitto.hubUrl, OUTPOST_HUB_BROKER__PASSWORD: HUB_PASSWORD }
            : {}),
          ...(nats && db
            ? {
                // The hub warms every node listed here over MQTT before anything reloads them
                // (hub/broker/nats-mqtt-warmup.ts); auth.conf already holds the whole fleet.
                OUTPOST_HUB_BROKER__URL: nats.natsUrls,
                OUTPOST_HUB_BROKER__PASSWORD: HUB_PASSWORD,
                OUTPOST_HUB_BROKER__MQTT_URLS: JSON.stringify(nats.nodes.map((n) => n.mqttUrl)),
                OUTPOST_HUB_STORE__URL: db.url,
                // A killed replica's leases move to the survivor within 2 s.
                OUTPOST_HUB_STORE__LEASE_TTL_MS: '2000',
              }
            : {}),
        }),
      );
    }
    for (const h of hubs) {
      const res = await fetch(`${h.http}/healthz`);
      if (!res.ok) throw new Error(`hub ${h.http} not healthy: ${res.status} ${await res.text()}`);
    }
  } catch (err) {
    await close().catch(() => undefined);
    throw err;
  }
  const lastCpu = new Map<string, number>();
  const cpuOf = (key: string, pid: number | undefined) => {
    const ms = cpuMsOf(pid);
    if (!Number.isNaN(ms)) lastCpu.set(key, ms);
    return lastCpu.get(key) ?? 0;
  };
  const urls = nats ? nats.nodes.map((n) => n.mqttUrl) : [mosquitto?.url ?? (hubs[0] as HubProcess).mqtt];
  const linkQos = await joinTokenLinkQos((hubs[0] as HubProcess).http, token).catch(async (err) => {
    await close().catch(() => undefined);
    throw err;
  });
  return {
    hubs,
    token,
    linkQos,
    ...(nats ? { nats } : {}),
    ...(db ? { database: db.name } : {}),
    deviceUrls: (i) => ({ urls, index: i % urls.length }),
    rss: () => ({
      hub: hubs.reduce(
        (sum, h) => sum + (h.child.exitCode === null && h.child.signalCode === null ? rssOf(h.child.pid) : 0),
        0,
      ),
      broker:
        (mosquitto ? rssOf(mosquitto.pid) : 0) +
        (nats ? nats.nodes.reduce((sum, n) => sum + (n.alive() ? rssOf(n.pid()) : 0), 0) : 0),
    }),
    cpu: () => ({
      hub: hubs.reduce((sum, h, i) => sum + cpuOf(`hub${i}`, h.child.pid), 0),
      broker:
        (mosquitto ? cpuOf('mosquitto', mosquitto.pid) : 0) +
        (nats ? nats.nodes.reduce((sum, n) => sum + cpuOf(n.name, n.pid()), 0) : 0),
    }),
    check: (epoch, devices, sent) =>
      exactCheck(db ? { pgUrl: db.url } : { dataDir: dir }, epoch, devices, sent),
    close,
  };
}

/** The `link.qos` of a join token from the hub at `http` (its default 1 when the token has none). */
async function joinTokenLinkQos(http: string, token: string): Promise<0 | 1> {
  const res = await fetch(`${http}/v1/devices`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ id: 'fleet-token-probe' }),
  });
  if (res.status !== 201)
    throw new Error(`enrolling the token probe: HTTP ${res.status} ${await res.text()}`);
  const { joinToken } = (await res.json()) as { joinToken: string };
  return decodeJoinToken(joinToken).linkQos ?? 1;
}
