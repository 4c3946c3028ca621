import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { MqttClient } from 'mqtt';
import pg from 'pg';
import { writeBrokerAuth } from '../../hub/index.js';
import { deviceTopic } from '../../shared/index.js';
import { closeClient, loginDevice, makeBatch, tempDir, waitFor } from '../helpers/hub.js';
import { postgresSpace, probePostgres, type StoreSpace } from '../store-contract/backends.js';
import { mosquittoSkip, startMosquitto, type TestMosquitto } from './mosquitto.js';
import { type ReplicaProcess, replicaEnv, startReplicaProcess } from './replica-process.js';

// Two hub replicas (child processes) on our Mosquitto and the
// machine's PostgreSQL; one is SIGKILLed while devices are sending; the other ingests the
// rest, and every event is stored exactly once (seqs 1..N per device, none twice, none lost).
// The rollout driver's lease moves to the survivor within its TTL.

const HUB_USER = 'outpost-hub';
const HUB_PASSWORD = 'hub-broker-password-for-failover';
const ADMIN = 'admin-token-for-the-failover-test';
const DEVICES = 4;
const BATCHES = 20;
const PER_BATCH = 3;

describe('failover between two hub replicas', { skip: mosquittoSkip() ?? (await probePostgres()) }, () => {
  let space: StoreSpace & { schema: string; url: string };
  let authDir: Awaited<ReturnType<typeof tempDir>>;
  const dirs: Array<Awaited<ReturnType<typeof tempDir>>> = [];
  let mosquitto: TestMosquitto;
  const replicas: ReplicaProcess[] = [];
  const clients: MqttClient[] = [];

  const startReplica = async () => {
    const dir = await tempDir();
    dirs.push(dir);
    return startReplicaProcess(
      replicaEnv({
        dataDir: dir.path,
        adminToken: ADMIN,
        store: space,
        broker: { url: mosquitto.hubUrl, username: HUB_USER, password: HUB_PASSWORD, authDir: authDir.path },
      }),
    );
  };

  before(async () => {
    space = await postgresSpace();
    authDir = await tempDir('outpost-failover-auth-');
    const store = await space.open();
    await writeBrokerAuth(store, { dir: authDir.path, hub: { username: HUB_USER, password: HUB_PASSWORD } });
    await store.close();
    mosquitto = await startMosquitto(authDir.path);
    replicas.push(await startReplica(), await startReplica());
  });

  after(async () => {
    for (const c of clients) await closeClient(c);
    for (const r of replicas) await r.kill('SIGTERM');
    await mosquitto?.stop();
    await space?.dispose();
    await authDir?.remove();
    for (const d of dirs) await d.remove();
  });

  test('SIGKILL of one replica mid-ingest: the other takes over, every event stored once', async () => {
    const [a, b] = replicas as [ReplicaProcess, ReplicaProcess];
    const devices: Array<{ id: string; secret: string }> = [];
    for (let i = 0; i < DEVICES; i++) {
      const res = await fetch(`${a.http}/v1/devices`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ id: `fo-dev-${i}` }),
      });
      assert.equal(res.status, 201);
      devices.push((await res.json()) as { id: string; secret: string });
    }
    mosquitto.reload();
    const connect = (d: { id: string; secret: string }) => loginDevice(mosquitto.url, d);
    const senders: Array<{
      d: { id: string; secret: string };
      client: MqttClient;
      acks: Array<{ batchId: string }>;
    }> = [];
    for (const d of devices) {
      const client = await waitFor(
        () => connect(d).catch(() => false as const),
        'the broker to accept the device',
      );
      clients.push(client);
      const acks: Array<{ batchId: string }> = [];
      client.on('message', (_t, payload) => acks.push(JSON.parse(payload.toString())));
      await client.subscribeAsync(deviceTopic(d.id, 'ack'), { qos: 1 });
      senders.push({ d, client, acks });
    }
    const db = new pg.Client({ connectionString: space.url, options: `-c search_path=${space.schema}` });
    await db.connect();
    try {
      const dbNow = async () =>
        Number(
          (
            await db.query<{ now: string }>(
              'SELECT (EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::BIGINT AS now',
            )
          ).rows[0]?.now,
        );
      let acked = 0;
      let resent = 0;
      const send = async ({ d, client, acks }: (typeof senders)[number]) => {
        for (let k = 0; k < BATCHES; k++) {
          const batch = makeBatch('epochfailover', 1 + k * PER_BATCH, PER_BATCH, `${d.id}-${k}`);
          // Like the agent: no ack within the timeout → resend (the hub ignores what it has).
          for (;;) {
            await client.publishAsync(deviceTopic(d.id, 'up'), JSON.stringify(batch), { qos: 1 });
            const ok = await waitFor(() => acks.some((x) => x.batchId === batch.batchId), 'ack', 2000).catch(
              () => false,
            );
            if (ok) break;
            resent++;
          }
          acked++;
        }
      };
      const sending = Promise.all(senders.map(send));
      await waitFor(() => acked >= (DEVICES * BATCHES) / 4, 'a quarter of the batches acked', 60_000);
      await a.kill('SIGKILL');
      const killedAt = await dbNow();
      await sending;
      // Every event exactly once, whichever replica stored it.
      const rows = await db.query<{ device_id: string; n: number; lo: number; hi: number }>(
        `SELECT device_id, COUNT(*)::INT AS n, MIN(seq)::INT AS lo, MAX(seq)::INT AS hi FROM events
         WHERE epoch = 'epochfailover' GROUP BY device_id ORDER BY device_id`,
      );
      assert.deepEqual(
        rows.rows.map((r) => [r.device_id, r.n, r.lo, r.hi]),
        devices.map((d) => [d.id, BATCHES * PER_BATCH, 1, BATCHES * PER_BATCH]),
        `stored exactly 1..${BATCHES * PER_BATCH} per device (${resent} batches were resent)`,
      );
      // The rollout driver's lease (TTL 1 s) is renewed more than a TTL after the kill: only
      // the survivor can have done that, whichever replica held it before.
      const renewed = await waitFor(
        async () =>
          (
            await db.query<{ holder: string }>(
              "SELECT holder FROM leases WHERE name = 'rollouts' AND expires_at > $1",
              [killedAt + 2000],
            )
          ).rows[0]?.holder,
        'the survivor to hold the rollout lease',
      ).catch(async (err) => {
        const rows = await db.query('SELECT * FROM leases');
        throw new Error(
          `${(err as Error).message}: killed at ${killedAt}, now ${await dbNow()}, leases ${JSON.stringify(rows.rows)}\n${b.output()}`,
        );
      });
      assert.ok(renewed);
      assert.equal((await fetch(`${b.http}/healthz`)).ok, true, 'the survivor is alive');
    } finally {
      await db.end();
    }
  });
});
