import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { buildMnistMlp, encodeUpdate, type ModelWeights, sha256Hex } from '../../federated/index.js';
import { writeBrokerAuth } from '../../hub/index.js';
import { FL_CHUNK_BYTES, FL_UPDATE_CHUNK } from '../../shared/messages/federated.js';
import { LATENCY_BUCKET_COUNT, MODEL_TELEMETRY_EVENT } from '../../shared/messages/telemetry.js';
import { taskBody } from '../fl-system/fleet.js';
import { tempDir, waitFor } from '../helpers/hub.js';
import { classifierModel } from '../helpers/models.js';
import { postgresSpace, probePostgres, type StoreSpace } from '../store-contract/backends.js';
import { mosquittoSkip, startMosquitto, type TestMosquitto } from './mosquitto.js';
import { connectDevice, enrollDevice, type ProtocolDevice } from './protocol-device.js';
import { type ReplicaProcess, replicaEnv, startReplicaProcess } from './replica-process.js';

// Two hub replicas (child processes) on our Mosquitto and the
// machine's PostgreSQL. The replica holding the `rollouts` lease is SIGKILLed mid-rollout and
// the one holding `federated` mid-round; the other takes the lease and finishes the job: no
// stage transition twice, every telemetry report folded once, every update counted once.

const HUB_USER = 'outpost-hub';
const HUB_PASSWORD = 'hub-broker-password-for-failover-jobs';
const ADMIN = 'admin-token-for-the-failover-jobs-test';

describe('jobs fail over between two hub replicas', {
  skip: mosquittoSkip() ?? (await probePostgres()),
}, () => {
  let space: StoreSpace & { schema: string; url: string };
  let authDir: Awaited<ReturnType<typeof tempDir>>;
  const dirs: Array<Awaited<ReturnType<typeof tempDir>>> = [];
  let mosquitto: TestMosquitto;
  const replicas: ReplicaProcess[] = [];
  const devices: ProtocolDevice[] = [];
  let db: pg.Client;

  const startReplica = async () => {
    const dir = await tempDir();
    dirs.push(dir);
    const replica = await startReplicaProcess(
      replicaEnv(
        {
          dataDir: dir.path,
          adminToken: ADMIN,
          store: space,
          broker: {
            url: mosquitto.hubUrl,
            username: HUB_USER,
            password: HUB_PASSWORD,
            authDir: authDir.path,
          },
        },
        // The round's chunks are read after it closed: the replicas keep update bytes.
        { OUTPOST_HUB_ROLLOUTS__TICK_MS: '100', OUTPOST_HUB_FEDERATED__RETENTION__KEEP_UPDATE_BYTES: 'true' },
      ),
    );
    replicas.push(replica);
    return replica;
  };
  const dbNow = async () =>
    Number(
      (
        await db.query<{ now: string }>(
          'SELECT (EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::BIGINT AS now',
        )
      ).rows[0]?.now,
    );
  const holderOf = async (name: string) =>
    (await db.query<{ holder: string }>('SELECT holder FROM leases WHERE name = $1', [name])).rows[0]?.holder;
  /** Waits until `name` is held by another replica than `previous` and renewed after `since`. */
  const takenOver = (name: string, previous: string, since: number, survivor: ReplicaProcess) =>
    waitFor(
      async () =>
        (
          await db.query<{ holder: string }>(
            'SELECT holder FROM leases WHERE name = $1 AND holder <> $2 AND expires_at > $3',
            [name, previous, since + 2000],
          )
        ).rows[0]?.holder,
      `the survivor to take the ${name} lease`,
      30_000,
    ).catch((err) => {
      throw new Error(`${(err as Error).message}\n${survivor.output()}`);
    });
  const admin = async (replica: ReplicaProcess, method: string, path: string, body?: unknown) => {
    const res = await fetch(`${replica.http}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${ADMIN}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    // biome-ignore lint/suspicious/noExplicitAny: tests read arbitrary JSON
    return { status: res.status, body: (await res.json()) as any };
  };
  const enrollAndConnect = async (replica: ReplicaProcess, ids: string[], labels: Record<string, string>) => {
    const creds = [];
    for (const id of ids) creds.push(await enrollDevice(replica.http, ADMIN, { id, labels }));
    mosquitto.reload();
    const connected = [];
    for (const c of creds) connected.push(await connectDevice(mosquitto.url, c));
    devices.push(...connected);
    return connected;
  };

  before(async () => {
    space = await postgresSpace();
    authDir = await tempDir('outpost-failover-jobs-auth-');
    const store = await space.open();
    await writeBrokerAuth(store, { dir: authDir.path, hub: { username: HUB_USER, password: HUB_PASSWORD } });
    await store.close();
    mosquitto = await startMosquitto(authDir.path);
    db = new pg.Client({ connectionString: space.url, options: `-c search_path=${space.schema}` });
    await db.connect();
    // The first replica alone takes both leases; the second starts once it holds them, so the
    // first is known to be the one driving rollouts and rounds.
    await startReplica();
    await waitFor(
      async () => (await holderOf('rollouts')) !== undefined && (await holderOf('federated')) !== undefined,
      'the first replica to take the rollouts and federated leases',
      30_000,
    );
    await startReplica();
  });

  after(async () => {
    for (const d of devices) await d.close();
    for (const r of replicas) await r.kill('SIGTERM');
    await db?.end();
    await mosquitto?.stop();
    await space?.dispose();
    await authDir?.remove();
    for (const d of dirs) await d.remove();
  });

  test('SIGKILL of the rollout driver mid-rollout: the survivor drives it to completion, no stage twice', async () => {
    const [a, b] = replicas as [ReplicaProcess, ReplicaProcess];
    for (const [version, seed] of [
      ['1.0.0', 1],
      ['2.0.0', 2],
    ] as const) {
      const res = await fetch(`${a.http}/v1/models/clf/versions/${version}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/octet-stream' },
        body: classifierModel(seed).bytes,
      });
      assert.equal(res.status, 201, await res.text());
    }
    const fleet = await enrollAndConnect(
      a,
      [0, 1, 2, 3].map((i) => `ro-dev-${i}`),
      { tag: 'ro' },
    );
    // Every device reports healthy metrics of the candidate (what an agent running it sends).
    let reporting = true;
    const report = async (d: ProtocolDevice) => {
      while (reporting) {
        const to = Date.now();
        const latency = Array.from({ length: LATENCY_BUCKET_COUNT }, (_, i) => (i === 2 ? 5 : 0));
        await d.send('telemetry', [
          {
            type: MODEL_TELEMETRY_EVENT,
            body: {
              from: to - 200,
              to,
              models: [
                {
                  model: 'clf',
                  version: '2.0.0',
                  role: 'active',
                  requests: 5,
                  errors: 0,
                  latency,
                  latencySumMs: 20,
                  confidenceSum: 4,
                  confidenceCount: 5,
                },
              ],
            },
          },
        ]);
        await new Promise((r) => setTimeout(r, 200));
      }
    };
    const reports = Promise.all(fleet.map(report));
    const driver = await holderOf('rollouts');
    assert.ok(driver);
    const created = await admin(b, 'POST', '/v1/rollouts', {
      model: 'clf',
      version: '2.0.0',
      selector: { tag: 'ro' },
      stages: [25, 50, 100],
      bakeMs: '1500ms',
      gates: ['requests>=3', 'error_rate<0.05'],
      deviceDeadlineMs: '60s',
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const id = created.body.id as string;
    // Mid-rollout: the canary stage passed, the second stage is running.
    await waitFor(
      async () => (await admin(b, 'GET', `/v1/rollouts/${id}`)).body.rollout.stage >= 1,
      'the rollout to reach its second stage',
      30_000,
    );
    await a.kill('SIGKILL');
    const killedAt = await dbNow();
    await takenOver('rollouts', driver, killedAt, b);
    const done = await waitFor(
      async () => {
        const view = (await admin(b, 'GET', `/v1/rollouts/${id}`)).body;
        return view.rollout.state !== 'running' && view;
      },
      'the survivor to finish the rollout',
      45_000,
    );
    reporting = false;
    await reports;
    const kinds = done.timeline.map((e: { kind: string; stage: number }) => `${e.kind}@${e.stage}`);
    assert.equal(done.rollout.state, 'completed', JSON.stringify(kinds));
    assert.deepEqual(
      kinds.filter((k: string) => /^(stage|completed|rolled-back)@/.test(k)),
      ['stage@1', 'stage@2', 'completed@2'],
      'each stage transition once',
    );
    assert.equal(
      kinds.filter((k: string) => k.startsWith('assigned@')).length,
      3,
      'one assignment per stage',
    );
    const completedAt = done.timeline.find((e: { kind: string }) => e.kind === 'completed').at as number;
    assert.ok(completedAt > killedAt, 'the survivor completed it');
    // Every telemetry report folded exactly once, whichever replica stored or folded it.
    await waitFor(
      async () =>
        (
          await db.query(
            `SELECT 1 FROM hwm h LEFT JOIN model_metrics_cursor c ON c.device_id = h.device_id AND c.epoch = h.epoch
             WHERE h.lane = 'telemetry' AND h.hwm > COALESCE(c.seq, 0)`,
          )
        ).rowCount === 0,
      'every telemetry event folded',
      30_000,
    );
    const stored = await db.query<{ n: number }>(
      `SELECT COUNT(*)::INT AS n FROM events WHERE type = $1 AND device_id LIKE 'ro-dev-%'`,
      [MODEL_TELEMETRY_EVENT],
    );
    const counted = await db.query<{ n: number }>(
      `SELECT COALESCE(SUM(requests), 0)::INT AS n FROM model_counters WHERE device_id LIKE 'ro-dev-%'`,
    );
    assert.equal(counted.rows[0]?.n, 5 * (stored.rows[0]?.n ?? 0), 'requests counted = 5 × reports stored');
  });

  test('SIGKILL of the round runner mid-round: the survivor closes it, every update counted once', async () => {
    // A fresh replica joins the one(s) running; those hold the federated lease, so killing
    // them all kills the leader (whichever it is) and leaves the fresh one to take over.
    const running = replicas.filter((r) => r.child.exitCode === null && r.child.signalCode === null);
    const other = await startReplica();
    const driver = await holderOf('federated');
    assert.ok(driver);
    const fleet = await enrollAndConnect(
      other,
      [0, 1, 2, 3, 4].map((i) => `fl-dev-${i}`),
      { tag: 'fl' },
    );
    const model = buildMnistMlp(3, { hidden: [4] });
    // Five devices selected, four submit: the round closes at its deadline, never before the kill.
    const created = await admin(
      other,
      'POST',
      '/v1/federated/tasks',
      taskBody(model, { selector: { tag: 'fl' }, rounds: 1, minClients: 4, deadlineS: 12, graceS: 60 }),
    );
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const taskId = created.body.id as string;
    const round = await waitFor(
      async () => (await admin(other, 'GET', `/v1/federated/tasks/${taskId}`)).body.rounds?.[0],
      'round 1 to open',
      30_000,
    );
    assert.equal(round.selected.length, 5, JSON.stringify(round));
    const update = (k: number) => {
      const delta: ModelWeights = model.weights.map((w) => ({
        ...w,
        values: new Float32Array(w.values.length).fill(0.001 * (k + 1)),
      })) as ModelWeights;
      const bytes = encodeUpdate(delta, { compression: 'none' });
      let norm = 0;
      for (const w of delta) for (const x of w.values) norm += x * x;
      return { bytes, norm: Math.sqrt(norm) };
    };
    /** The chunk events of device `k`'s update (one batch). */
    const chunkEvents = (k: number) => {
      const { bytes, norm } = update(k);
      const total = Math.ceil(bytes.length / FL_CHUNK_BYTES);
      const digest = sha256Hex(bytes);
      return Array.from({ length: total }, (_, index) => ({
        type: FL_UPDATE_CHUNK,
        body: {
          task: taskId,
          round: 1,
          index,
          total,
          digest,
          bytes: Buffer.from(bytes.subarray(index * FL_CHUNK_BYTES, (index + 1) * FL_CHUNK_BYTES)).toString(
            'base64',
          ),
          examples: 10 + k,
          norm,
          clipped: false,
          loss: 1,
          accuracy: 0.5,
        },
      }));
    };
    const [d0, d1, d2, d3] = fleet as [ProtocolDevice, ProtocolDevice, ProtocolDevice, ProtocolDevice];
    const submitters = [d0, d1, d2, d3];
    await d0.send('learning', chunkEvents(0));
    await waitFor(
      async () => (await db.query('SELECT 1 FROM fl_chunks WHERE device_id = $1', [d0.id])).rowCount === 1,
      'the first update filed',
    );
    // What a replica killed at the wrong moment leaves behind, written as it would have. The
    // leader stored and acked d2's update but died before filing it (d2 never sends it again):
    // the survivor re-files open rounds when it takes over.
    const stranded = async (d: ProtocolDevice, k: number) => {
      const batch = d.prepare('learning', chunkEvents(k));
      const store = await space.open();
      try {
        await store.ingestBatch(d.id, batch, Date.now());
      } finally {
        await store.close();
      }
      return batch;
    };
    await stranded(d2, 2);
    // Updates are arriving: the leader is killed; d3 sends during the failover.
    const during = d3.send('learning', chunkEvents(3));
    for (const r of running) await r.kill('SIGKILL');
    const killedAt = await dbNow();
    await during;
    await takenOver('federated', driver, killedAt, other);
    // Another replica (not driving) stored d1's update and died before acking it: d1 resends,
    // the survivor finds a duplicate and files it again.
    await d1.sendBatch(await stranded(d1, 1));
    const closed = await waitFor(
      async () => {
        const r = (await admin(other, 'GET', `/v1/federated/tasks/${taskId}`)).body.rounds?.[0];
        return r?.status !== 'open' && r;
      },
      'the survivor to close round 1',
      45_000,
    );
    assert.equal(closed.status, 'closed', JSON.stringify(closed));
    assert.ok(closed.closedAt > killedAt, 'closed by the survivor');
    const submitted = await db.query<{ device_id: string }>(
      'SELECT DISTINCT device_id FROM fl_chunks WHERE task_id = $1 AND round = 1 ORDER BY device_id',
      [taskId],
    );
    assert.deepEqual(
      submitted.rows.map((r) => r.device_id),
      submitters.map((d) => d.id),
    );
    assert.equal(
      closed.metrics.accepted,
      submitted.rows.length,
      'accepted = distinct devices that submitted',
    );
    const updates = await db.query<{ device_id: string; status: string }>(
      'SELECT device_id, status FROM fl_updates WHERE task_id = $1 AND round = 1 ORDER BY device_id',
      [taskId],
    );
    assert.deepEqual(
      updates.rows.map((r) => [r.device_id, r.status]),
      submitters.map((d) => [d.id, 'accepted']),
    );
    const task = (await admin(other, 'GET', `/v1/federated/tasks/${taskId}`)).body;
    assert.equal(task.status, 'done');
  });
});
