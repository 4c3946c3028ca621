import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { buildMnistMlp } from '../../federated/index.js';
import { writeBrokerAuth } from '../../hub/index.js';
import { taskBody } from '../fl-system/fleet.js';
import { tempDir, waitFor } from '../helpers/hub.js';
import {
  assertSecureMean,
  connectSecAggDevice,
  constantDelta,
  type SecAggDevice,
  secureRoundTask,
} from '../helpers/secagg-device.js';
import { postgresSpace, probePostgres, type StoreSpace } from '../store-contract/backends.js';
import { mosquittoSkip, startMosquitto, type TestMosquitto } from './mosquitto.js';
import { enrollDevice } from './protocol-device.js';
import { type ReplicaProcess, replicaEnv, startReplicaProcess } from './replica-process.js';

// A secure-aggregation round across hub replicas (child processes) on our Mosquitto and the
// machine's PostgreSQL. The devices' messages reach whichever replica the shared subscription
// hands them to, and every replica takes them into the store. The replica driving rounds
// (the `federated` lease) is SIGKILLed in the share phase (one device holds its key shares
// back); another takes the lease, rebuilds the round from the store and goes on. A fresh
// replica joins; the new driver is SIGKILLed in the unmask phase (the same device holds its
// unmasking answer back); the fresh one takes over and finishes the round. The new model is
// the example-weighted mean of the deltas within the fixed-point bound.

const HUB_USER = 'outpost-hub';
const HUB_PASSWORD = 'hub-broker-password-for-secagg-failover';
const ADMIN = 'admin-token-for-the-secagg-failover-test';
const TASK = 'secure-failover';
const DEVICES = [
  { id: 'sf-a', delta: 0.001, examples: 40 },
  { id: 'sf-b', delta: -0.002, examples: 80 },
  { id: 'sf-c', delta: 0.004, examples: 120 },
];
const MAX_EXAMPLES = 200;

describe('a secure round fails over between hub replicas', {
  skip: mosquittoSkip() ?? (await probePostgres()),
}, () => {
  let space: StoreSpace & { schema: string; url: string };
  let authDir: Awaited<ReturnType<typeof tempDir>>;
  const dirs: Array<Awaited<ReturnType<typeof tempDir>>> = [];
  let mosquitto: TestMosquitto;
  const replicas: ReplicaProcess[] = [];
  const devices: SecAggDevice[] = [];
  let db: pg.Client;

  const startReplica = async () => {
    const dir = await tempDir();
    dirs.push(dir);
    const replica = await startReplicaProcess(
      replicaEnv({
        dataDir: dir.path,
        adminToken: ADMIN,
        store: space,
        broker: { url: mosquitto.hubUrl, username: HUB_USER, password: HUB_PASSWORD, authDir: authDir.path },
      }),
    );
    replicas.push(replica);
    return replica;
  };
  const holderOf = async () =>
    (await db.query<{ holder: string }>("SELECT holder FROM leases WHERE name = 'federated'")).rows[0]
      ?.holder;
  const dbNow = async () =>
    Number(
      (
        await db.query<{ now: string }>(
          'SELECT (EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::BIGINT AS now',
        )
      ).rows[0]?.now,
    );
  /** Kills every running replica but `keep`, waits until `keep` holds the federated lease. */
  const failOver = async (keep: ReplicaProcess[]) => {
    const previous = await holderOf();
    for (const r of replicas)
      if (!keep.includes(r) && r.child.exitCode === null && r.child.signalCode === null)
        await r.kill('SIGKILL');
    const killedAt = await dbNow();
    await waitFor(
      async () =>
        (
          await db.query(
            "SELECT 1 FROM leases WHERE name = 'federated' AND holder <> $1 AND expires_at > $2",
            [previous ?? '', killedAt + 500],
          )
        ).rowCount === 1,
      'a survivor to take the federated lease',
      30_000,
    );
  };
  const secure = async () => {
    const round = (await db.query('SELECT phase FROM fl_secagg_rounds WHERE task_id = $1', [TASK])).rows[0];
    const kinds = (
      await db.query<{ kind: string; n: number }>(
        'SELECT kind, COUNT(*)::INT AS n FROM fl_secagg_messages WHERE task_id = $1 GROUP BY kind',
        [TASK],
      )
    ).rows;
    return {
      phase: round?.phase as string | undefined,
      count: (kind: string) => kinds.find((k) => k.kind === kind)?.n ?? 0,
    };
  };

  before(async () => {
    space = await postgresSpace();
    authDir = await tempDir('outpost-secagg-failover-auth-');
    const store = await space.open();
    await writeBrokerAuth(store, { dir: authDir.path, hub: { username: HUB_USER, password: HUB_PASSWORD } });
    await store.close();
    mosquitto = await startMosquitto(authDir.path);
    db = new pg.Client({ connectionString: space.url, options: `-c search_path=${space.schema}` });
    await db.connect();
    await startReplica();
    await waitFor(async () => (await holderOf()) !== undefined, 'the first replica to drive rounds', 30_000);
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

  test('killed in the share phase and again in the unmask phase, the round closes with the right sum', async () => {
    const second = replicas[1] as ReplicaProcess;
    const model = buildMnistMlp(5, { hidden: [4] });
    for (const d of DEVICES) {
      const creds = await enrollDevice(second.http, ADMIN, { id: d.id, labels: { secure: 'failover' } });
      mosquitto.reload();
      devices.push(
        await connectSecAggDevice(mosquitto.url, creds, constantDelta(model.weights, d.delta), d.examples),
      );
    }
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
    await waitFor(
      async () =>
        (await db.query("SELECT 1 FROM devices WHERE online AND id LIKE 'sf-%'")).rowCount === DEVICES.length,
      'the devices online',
      30_000,
    );
    const c = devices[2] as SecAggDevice;
    c.hold(['fl.secagg.shares']);
    const created = await admin(
      second,
      'POST',
      '/v1/federated/tasks',
      taskBody(
        model,
        secureRoundTask({
          id: TASK,
          selector: { secure: 'failover' },
          clients: DEVICES.length,
          maxExamples: MAX_EXAMPLES,
        }),
      ),
    );
    assert.equal(created.status, 201, JSON.stringify(created.body));

    // Share phase, two of three shares taken (by whichever replica got them): kill the driver.
    await waitFor(
      async () => {
        const s = await secure();
        return s.phase === 'share' && s.count('shares') === 2;
      },
      'two key shares taken',
      30_000,
    );
    // The first replica took the lease before the second started: it drives. Kill it.
    await failOver([second]);
    const fresh = await startReplica();
    c.hold(['fl.secagg.unmask']);
    await c.release(['fl.secagg.shares']);

    // Unmask phase, two of three answers taken: kill the (new) driver, the fresh replica finishes.
    await waitFor(
      async () => {
        const s = await secure();
        return s.phase === 'unmask' && s.count('unmask') === 2;
      },
      'two unmasking answers taken',
      60_000,
    ).catch((err) => {
      throw new Error(`${(err as Error).message}\n${second.output()}`);
    });
    await failOver([fresh]);
    await c.release();

    const closed = await waitFor(
      async () => {
        const r = (await admin(fresh, 'GET', `/v1/federated/tasks/${TASK}`)).body.rounds?.[0];
        return r?.status !== 'open' && r;
      },
      'the fresh replica to close the round',
      60_000,
    ).catch((err) => {
      throw new Error(`${(err as Error).message}\n${fresh.output()}`);
    });
    assert.equal(closed.status, 'closed', JSON.stringify(closed));
    assert.equal(closed.metrics.accepted, 3, JSON.stringify(closed.metrics));
    const weights = (await admin(fresh, 'GET', `/v1/federated/tasks/${TASK}/weights?round=2`)).body.weights;
    assertSecureMean(model.weights, weights, DEVICES, MAX_EXAMPLES);
    await waitFor(
      async () =>
        (await db.query('SELECT 1 FROM fl_secagg_rounds WHERE task_id = $1', [TASK])).rowCount === 0,
      'the round state deleted',
    );
  });
});
