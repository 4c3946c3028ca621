import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import mqtt, { type MqttClient } from 'mqtt';
import pg from 'pg';
import { decodeJoinToken, deviceTopic } from '../../shared/index.js';
import { closeClient, makeBatch, type TempDir, tempDir, waitFor } from '../helpers/hub.js';
import { natsSkip, startTestNatsCluster, type TestNatsCluster } from '../helpers/nats-cluster.js';
import { postgresSpace, probePostgres, type StoreSpace } from '../store-contract/backends.js';
import { type ReplicaProcess, startReplicaProcess } from './replica-process.js';

// Two hub replicas (child processes) on a three-node NATS cluster of the test's own and the
// machine's PostgreSQL. Devices on different nodes send; the replicas share the uplink through
// a NATS queue group; one replica is SIGKILLed mid-stream. Every event is stored exactly once.

const ADMIN = 'admin-token-for-the-nats-replica-test';
const DEVICES = 3;
const BATCHES = 15;
const PER_BATCH = 3;

describe('two hub replicas on a NATS cluster', { skip: natsSkip() ?? (await probePostgres()) }, () => {
  let space: StoreSpace & { schema: string; url: string };
  let cluster: TestNatsCluster;
  const dirs: TempDir[] = [];
  const replicas: ReplicaProcess[] = [];
  const clients: MqttClient[] = [];

  const startReplica = async () => {
    const dir = await tempDir();
    dirs.push(dir);
    const broker = cluster.brokerConfig();
    return startReplicaProcess({
      OUTPOST_HUB_DATA_DIR: dir.path,
      OUTPOST_HUB_ADMIN_TOKEN: ADMIN,
      OUTPOST_HUB_HTTP__HOST: '127.0.0.1',
      OUTPOST_HUB_HTTP__PORT: '0',
      OUTPOST_HUB_LOG_LEVEL: 'warn',
      OUTPOST_HUB_STORE__URL: space.url,
      OUTPOST_HUB_STORE__SCHEMA: space.schema,
      OUTPOST_HUB_BROKER__URL: broker.url as string,
      OUTPOST_HUB_BROKER__USERNAME: broker.username as string,
      OUTPOST_HUB_BROKER__PASSWORD: broker.password as string,
      OUTPOST_HUB_BROKER__AUTH_DIR: broker.authDir as string,
      OUTPOST_HUB_BROKER__MQTT_URLS: JSON.stringify(broker.mqttUrls),
      OUTPOST_HUB_BROKER__RELOAD: JSON.stringify(broker.reload),
    });
  };

  before(async () => {
    space = await postgresSpace();
    cluster = await startTestNatsCluster(3);
    replicas.push(await startReplica(), await startReplica());
  });

  after(async () => {
    for (const c of clients) await closeClient(c);
    for (const r of replicas) await r.kill('SIGTERM');
    await cluster?.remove();
    await space?.dispose();
    for (const d of dirs) await d.remove();
  });

  test('SIGKILL of one replica mid-stream: devices on three nodes, every event stored once', async () => {
    const [a, b] = replicas as [ReplicaProcess, ReplicaProcess];
    const senders: Array<{ id: string; client: MqttClient; acks: string[] }> = [];
    for (let i = 0; i < DEVICES; i++) {
      const res = await fetch(`${(i % 2 === 0 ? a : b).http}/v1/devices`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ id: `nats-rep-${i}` }),
      });
      assert.equal(res.status, 201);
      const d = (await res.json()) as { id: string; secret: string; joinToken: string };
      // The join token lists every node's MQTT URL: the agent fails over across them.
      assert.equal(decodeJoinToken(d.joinToken).mqttUrl, cluster.nodes.map((n) => n.mqttUrl).join(','));
      // Device i on node i: the uplink crosses the cluster to whichever replica gets it.
      const url = cluster.nodes[i]?.mqttUrl as string;
      const client = await waitFor(
        () =>
          mqtt
            .connectAsync(
              url,
              { protocolVersion: 4, clientId: d.id, username: d.id, password: d.secret, reconnectPeriod: 0 },
              false,
            )
            .catch(() => false as const),
        `node ${i + 1} to accept ${d.id}`,
      );
      clients.push(client);
      const acks: string[] = [];
      client.on('message', (_t, payload) => acks.push(JSON.parse(payload.toString()).batchId));
      await client.subscribeAsync(deviceTopic(d.id, 'ack'), { qos: 1 });
      senders.push({ id: d.id, client, acks });
    }
    let acked = 0;
    let resent = 0;
    const send = async ({ id, client, acks }: (typeof senders)[number]) => {
      for (let k = 0; k < BATCHES; k++) {
        const batch = makeBatch('epochnatsreplicas', 1 + k * PER_BATCH, PER_BATCH, `${id}-${k}`);
        // Like the agent: no ack within the timeout → resend (the hub drops what it has).
        for (;;) {
          await client.publishAsync(deviceTopic(id, 'up'), JSON.stringify(batch), { qos: 1 });
          const ok = await waitFor(() => acks.includes(batch.batchId), 'ack', 2000).catch(() => false);
          if (ok) break;
          resent++;
        }
        acked++;
      }
    };
    const sending = Promise.all(senders.map(send));
    await waitFor(() => acked >= (DEVICES * BATCHES) / 4, 'a quarter of the batches acked', 60_000);
    await a.kill('SIGKILL');
    await sending;
    const db = new pg.Client({ connectionString: space.url, options: `-c search_path=${space.schema}` });
    await db.connect();
    try {
      const rows = await db.query<{
        device_id: string;
        n: number;
        distinct_seqs: number;
        lo: number;
        hi: number;
      }>(
        `SELECT device_id, COUNT(*)::INT AS n, COUNT(DISTINCT seq)::INT AS distinct_seqs, MIN(seq)::INT AS lo,
                MAX(seq)::INT AS hi
         FROM events WHERE epoch = 'epochnatsreplicas' GROUP BY device_id ORDER BY device_id`,
      );
      const all = BATCHES * PER_BATCH;
      assert.deepEqual(
        rows.rows.map((r) => [r.device_id, r.n, r.distinct_seqs, r.lo, r.hi]),
        senders.map((s) => [s.id, all, all, 1, all]),
        `stored exactly 1..${all} per device (${resent} batches were resent)`,
      );
      assert.equal((await fetch(`${b.http}/healthz`)).ok, true, 'the survivor is alive');
    } finally {
      await db.end();
    }
  });
});
