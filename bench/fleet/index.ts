import { randomBytes, scrypt } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startMosquitto } from '../../hub/broker/mosquitto-process.js';
import { hubPasswordHash, writeNatsBrokerAuth } from '../../hub/broker/nats-auth.js';
import { type NatsClusterProcess, startNatsCluster } from '../../hub/broker/nats-process.js';
import { openSqliteHubStore, writeBrokerAuth } from '../../hub/index.js';
import { findPeer } from '../../test/helpers/peer.js';
import { millis, percentile, perSecond, timed } from '../lib/measure.js';
import { machine, table } from '../lib/report.js';
import type { Benchmark, BenchOptions } from '../lib/types.js';
import { BENCH_SCRYPT_N, enrollFleet, type FleetDevice, makeFleet } from './credentials.js';
import {
  BENCH_DRIFT_EDGES,
  connectDevice,
  type FleetLane,
  pool,
  type SimDevice,
  sendEvents,
} from './devices.js';
import { cpuMsOf, rssOf, startHubProcess } from './hub-process.js';

const HUB_PASSWORD = randomBytes(24).toString('base64url');
const MiB = 1024 * 1024;

interface ModeResult {
  mode: string;
  connectMs: number;
  desired: number;
  events: number;
  ingestMs: number;
  p50: number;
  p99: number;
  bytesPerDevice: number;
  resent: number;
  /** Hub CPU time from the first batch until every event's effect is visible, ms. */
  hubCpuMs: number;
  /** Telemetry lane: from the last ack until every device's last report shows in the API, ms. */
  visibleMs: number | null;
}

/** Waits until `GET /v1/telemetry/devices` shows every device's last report; ms waited. */
async function telemetryVisible(
  http: string,
  token: string,
  devices: number,
  lastUptime: number,
): Promise<number> {
  const start = performance.now();
  for (;;) {
    const res = await fetch(`${http}/v1/telemetry/devices`, {
      headers: { authorization: `Bearer ${token}` },
    });
    const body = (await res.json()) as { devices: Array<{ latest: { uptimeS: number } }> };
    const done = body.devices.filter((d) => d.latest.uptimeS === lastUptime).length;
    if (done >= devices) return performance.now() - start;
    if (performance.now() - start > 120_000)
      throw new Error(`only ${done}/${devices} reports visible after 120 s`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function runMode(
  mode: 'embedded' | 'mosquitto' | 'nats',
  fleet: readonly FleetDevice[],
  sizes: { batches: number; perBatch: number; concurrency: number; lane: FleetLane },
  progress: (line: string) => void,
  mosquittoBin: string,
  natsBin: string,
): Promise<ModeResult> {
  const dir = await mkdtemp(join(tmpdir(), `outpost-fleet-${mode}-`));
  const store = openSqliteHubStore(dir);
  await enrollFleet(store, fleet);
  const authDir = join(dir, 'broker');
  if (mode === 'mosquitto') {
    await writeBrokerAuth(store, { dir: authDir, hub: { username: 'outpost-hub', password: HUB_PASSWORD } });
  }
  if (mode === 'nats') {
    const hash = await hubPasswordHash(HUB_PASSWORD);
    await writeNatsBrokerAuth(store, { dir: authDir, hub: { username: 'outpost-hub', hash } });
  }
  await store.close();
  const mosquitto = mode === 'mosquitto' ? await startMosquitto(authDir, mosquittoBin) : undefined;
  // Three nodes on this machine; devices spread over them round-robin.
  const nats: NatsClusterProcess | undefined =
    mode === 'nats'
      ? await startNatsCluster({ dir: authDir, size: 3, bin: natsBin, timeoutMs: 60_000 })
      : undefined;
  const hub = await startHubProcess({
    OUTPOST_HUB_DATA_DIR: dir,
    OUTPOST_HUB_HTTP__HOST: '127.0.0.1',
    OUTPOST_HUB_HTTP__PORT: '0',
    OUTPOST_HUB_MQTT__HOST: '127.0.0.1',
    OUTPOST_HUB_MQTT__PORT: '0',
    OUTPOST_HUB_LOG_LEVEL: 'warn',
    ...(mosquitto
      ? { OUTPOST_HUB_BROKER__URL: mosquitto.hubUrl, OUTPOST_HUB_BROKER__PASSWORD: HUB_PASSWORD }
      : {}),
    ...(nats
      ? {
          OUTPOST_HUB_BROKER__URL: nats.natsUrls,
          OUTPOST_HUB_BROKER__PASSWORD: HUB_PASSWORD,
          OUTPOST_HUB_BROKER__MQTT_URLS: JSON.stringify(nats.nodes.map((n) => n.mqttUrl)),
        }
      : {}),
  }).catch(async (err: unknown) => {
    await nats?.close();
    await mosquitto?.stop();
    throw err;
  });
  const rss = () =>
    rssOf(hub.child.pid) +
    (mosquitto ? rssOf(mosquitto.pid) : 0) +
    (nats ? nats.nodes.reduce((sum, n) => sum + rssOf(n.pid()), 0) : 0);
  const deviceUrl = (i: number) =>
    nats ? (nats.nodes[i % nats.nodes.length]?.mqttUrl as string) : (mosquitto?.url ?? hub.mqtt);
  const devices: SimDevice[] = [];
  let retried = 0;
  try {
    const baseline = rss();
    progress(`${mode}: connecting ${fleet.length} devices (${sizes.concurrency} at a time)`);
    const connect = await timed(() =>
      pool(fleet, sizes.concurrency, async (d) => {
        const url = deviceUrl(Number(d.id.slice('fleet-'.length)));
        // Like the agent: a refused subscription (a NATS node whose JetStream consumer creation
        // timed out under the storm) drops the connection and tries again.
        for (let attempt = 1; ; attempt++) {
          try {
            devices.push(await connectDevice(url, d));
            return;
          } catch (err) {
            if (mode !== 'nats' || attempt >= 5) throw err;
            retried++;
          }
        }
      }),
    );
    const deadline = Date.now() + 60_000;
    while (devices.some((d) => d.desired === 0) && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 50));
    const connected = rss();
    if (retried > 0) progress(`${mode}: ${retried} connections retried after a refused subscription`);
    progress(
      `${mode}: connected in ${millis(connect.ms)}; sending ${sizes.batches}×${sizes.perBatch} events each`,
    );
    const token = (await readFile(join(dir, 'admin-token'), 'utf8')).trim();
    if (sizes.lane === 'telemetry') {
      // A baseline, so that each drift evaluation computes PSI and KS like a real one.
      const res = await fetch(`${hub.http}/v1/drift/baselines/bench/1.0.0`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          features: Array.from({ length: 4 }, () => ({
            edges: BENCH_DRIFT_EDGES,
            counts: new Array(10).fill(100),
          })),
          classes: [34, 33, 33],
        }),
      });
      if (!res.ok) throw new Error(`drift baseline: ${res.status} ${await res.text()}`);
    }
    const latencies: number[] = [];
    const cpuBefore = cpuMsOf(hub.child.pid);
    const ingest = await timed(() =>
      Promise.all(devices.map((d) => sendEvents(d, sizes.batches, sizes.perBatch, latencies, sizes.lane))),
    );
    const total = sizes.batches * sizes.perBatch;
    // The last telemetry.device report of each device is event total - 2 or total - 1 (even k).
    const lastUptime = (total - 1) % 2 === 0 ? total - 1 : total - 2;
    const visibleMs =
      sizes.lane === 'telemetry' ? await telemetryVisible(hub.http, token, devices.length, lastUptime) : null;
    const hubCpuMs = cpuMsOf(hub.child.pid) - cpuBefore;
    return {
      mode,
      connectMs: connect.ms,
      desired: devices.filter((d) => d.desired > 0).length,
      events: latencies.length * sizes.perBatch,
      ingestMs: ingest.ms,
      p50: percentile(latencies, 50),
      p99: percentile(latencies, 99),
      bytesPerDevice: (connected - baseline) / fleet.length,
      resent: devices.reduce((n, d) => n + d.resent, 0),
      hubCpuMs,
      visibleMs,
    };
  } finally {
    await pool(devices, 500, (d) => d.client.endAsync(true).then(() => undefined));
    await hub.stop();
    await mosquitto?.stop();
    await nats?.close();
    await rm(dir, { recursive: true, force: true });
  }
}

function productionScryptMs(): Promise<number> {
  const start = performance.now();
  return new Promise((resolve, reject) =>
    scrypt('x', randomBytes(16), 32, { N: 16_384, r: 8, p: 1, maxmem: 64 * MiB }, (err) =>
      err ? reject(err) : resolve(performance.now() - start),
    ),
  );
}

/**
 * `npm run bench -- fleet [--devices N] [--events N] [--batch N] [--broker both|all|embedded|mosquitto|nats]
 * [--quick]`. Ratios are against the first broker run (embedded unless only Mosquitto).
 */
export const fleetBenchmark: Benchmark = {
  description: 'fleet load: N protocol-level devices against the embedded broker vs the Mosquitto-backed hub',
  async run(options: BenchOptions): Promise<string> {
    const params = options.params ?? {};
    for (const key of Object.keys(params)) {
      if (!['devices', 'events', 'batch', 'broker', 'lane'].includes(key))
        throw new Error(`fleet: unknown setting --${key}`);
    }
    const count = Number(params.devices ?? (options.quick ? 300 : 5000));
    const perBatch = Number(params.batch ?? 5);
    const events = Number(params.events ?? 20);
    if (![count, perBatch, events].every((n) => Number.isInteger(n) && n > 0) || events % perBatch !== 0) {
      throw new Error(
        'fleet: --devices, --events and --batch must be positive integers, events a multiple of batch',
      );
    }
    const brokers = {
      both: ['embedded', 'mosquitto'],
      all: ['embedded', 'mosquitto', 'nats'],
      embedded: ['embedded'],
      mosquitto: ['mosquitto'],
      nats: ['nats'],
    } as const;
    const broker = String(params.broker ?? 'both');
    if (!(broker in brokers))
      throw new Error(`fleet: --broker must be both, all, embedded, mosquitto or nats, not ${broker}`);
    const lane = String(params.lane ?? 'results');
    if (lane !== 'results' && lane !== 'telemetry')
      throw new Error(`fleet: --lane must be results or telemetry, not ${lane}`);
    const sizes = { batches: events / perBatch, perBatch, concurrency: 200, lane: lane as FleetLane };
    const mosquittoPeer = findPeer(
      'Mosquitto',
      'OUTPOST_BENCH_MOSQUITTO',
      '/usr/sbin/mosquitto',
      'apt-get install mosquitto',
    );
    const natsPeer = findPeer(
      'nats-server',
      'OUTPOST_BENCH_NATS',
      '/usr/sbin/nats-server',
      'apt-get install nats-server',
    );
    const modes = brokers[broker as keyof typeof brokers].filter(
      (m) =>
        (m !== 'mosquitto' || mosquittoPeer.missing === undefined) &&
        (m !== 'nats' || natsPeer.missing === undefined),
    );
    const missing = [mosquittoPeer.missing, natsPeer.missing].filter((m) => m !== undefined);
    for (const m of missing) options.progress(m);
    if (modes.length === 0) return `fleet: nothing to run — ${missing.join('; ')}`;
    options.progress(
      `hashing credentials of ${count} devices (scrypt N=${BENCH_SCRYPT_N}, PBKDF2 for Mosquitto)`,
    );
    const fleet = await makeFleet(count);
    const results: ModeResult[] = [];
    for (const mode of modes)
      results.push(await runMode(mode, fleet, sizes, options.progress, mosquittoPeer.bin, natsPeer.bin));
    const scryptMs = await productionScryptMs();
    const base = results[0] as ModeResult;
    const rows = results.map((r) => [
      r.mode === 'embedded'
        ? 'hub, embedded aedes'
        : r.mode === 'nats'
          ? 'hub + NATS, 3 nodes'
          : 'hub + Mosquitto 2',
      `${millis(r.connectMs)} (${(r.connectMs / base.connectMs).toFixed(2)}×)`,
      `${r.desired}/${count}`,
      `${perSecond((r.events * 1000) / r.ingestMs)} (${(r.events / r.ingestMs / (base.events / base.ingestMs)).toFixed(2)}×)`,
      millis(r.p50),
      millis(r.p99),
      `${(r.bytesPerDevice / 1024).toFixed(1)} KiB`,
      String(r.resent),
      `${((r.hubCpuMs * 1000) / r.events).toFixed(0)} µs`,
      r.visibleMs === null ? '' : millis(r.visibleMs),
    ]);
    return [
      `fleet: ${count} devices, ${events} ${lane === 'telemetry' ? 'telemetry events (device reports and drift summaries, alternately)' : 'events'} each in batches of ${perBatch}, QoS 1, one ack per batch`,
      machine(),
      '',
      table(
        [
          'broker',
          'connect storm',
          'desired',
          'ingest events/s',
          'ack p50',
          'ack p99',
          'memory/device',
          'resent',
          'hub CPU/event',
          'visible after',
        ],
        rows,
      ),
      ...missing,
      '',
      'Ratios are against the first broker in the same run. Devices, hub and broker share this',
      "machine's cores; memory/device = growth of hub RSS (+ Mosquitto's or the NATS nodes' RSS) from before the storm",
      'to all connected, divided by the devices. Both hubs use SQLite (FULL sync) for the events.',
      "Hub CPU/event: the hub process's CPU time from the first batch until the last effect is",
      'visible, per event. Visible after (telemetry lane): from the last ack until every device',
      'last report is served by GET /v1/telemetry/devices.',
      `Device hashes use scrypt N=${BENCH_SCRYPT_N}; production enrollment uses N=16384, whose check took`,
      `${millis(scryptMs)} of one core here: the embedded broker pays it on every CONNECT (about`,
      `${((scryptMs * count) / 1000).toFixed(0)} core-seconds for this storm), Mosquitto pays PBKDF2-SHA512 x101 instead,`,
      'NATS bcrypt cost 4. NATS devices are spread round-robin over the three nodes (all on this machine).',
    ].join('\n');
  },
};
