/**
 * A secure round survives an *agent* restart. Three real agents (T, A, H) and a real hub,
 * t = 2. T keeps its side of the round in its agent store, so when it is closed mid-round and
 * started again on the same data dir it goes on with the keys the hub already holds:
 * - after its keys: T advertised and is closed while the round waits for H's advertisement
 *   (H's link holds its events back); the share phase then opens without T, T starts again
 *   and sends its shares, and the round closes with T counted;
 * - after its masked input: T shared, then its link holds its events back while it answers
 *   the mask phase (the masked input is in its outbox, with the phase in its store); T is
 *   closed and started again: the outbox sends the masked input, and T answers unmasking
 *   from the stored shares;
 * - a round that moved on: T advertised and is closed, the task is stopped while it is down;
 *   started again, T deletes the round's state and carries on.
 * Each secure model equals a plain FedAvg round over the same three devices (same seed: the
 * devices train alike) within the fixed-point bound, and T sends each phase's message once.
 * H's and T's links pass a fault proxy whose held direction decides the phase each step
 * happens in, so no timing race does.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { AGENT_DB_FILE } from '../../agent/index.js';
import { decodeUpdate } from '../../federated/index.js';
import type { Hub } from '../../hub/index.js';
import { loadDigits } from '../../inference/index.js';
import { FL_CHUNK_BYTES } from '../../shared/messages/federated.js';
import { FaultProxy, tempDir, waitFor } from '../helpers/agent.js';
import { Cleanups } from '../helpers/fixtures.js';
import { api, enroll, startHub } from '../helpers/hub.js';
import {
  assertSecureMatchesPlain,
  type FleetDevice,
  initialModel,
  postDigits,
  sliceDigits,
  startAgent,
  taskBody,
  taskEnded,
} from './fleet.js';

type Device = FleetDevice & { proxy: FaultProxy; slice: number[] };

/** No keepalive ping nor app ping while a direction of the link is held. */
const LINK = {
  keepaliveS: 300,
  pingIntervalMs: 0,
  reconnectMinMs: 20,
  reconnectMaxMs: 200,
  connectTimeoutMs: 2000,
};
const LABEL = { restart: 'secure' };

/** Reads T's agent store (WAL: alongside the running agent). */
function readStore<T>(d: Device, sql: string): T[] {
  const db = new Database(join(d.dataDir, AGENT_DB_FILE), { readonly: true, fileMustExist: true });
  try {
    return db.prepare(sql).all() as T[];
  } finally {
    db.close();
  }
}

describe('a secure round survives an agent restart', () => {
  const cleanups = new Cleanups();
  after(() => cleanups.run());

  it('resumes after its keys and after its masked input, and drops a round that moved on', async () => {
    const dir = tempDir('outpost-secagg-agent-hub-');
    cleanups.push(() => dir.remove());
    const hub: Hub = await startHub(dir.path);
    cleanups.push(() => hub.close());
    const train = loadDigits(20, 0);
    const make = async (name: string, slice: number[]): Promise<Device> => {
      const data = tempDir(`outpost-secagg-agent-${name}-`);
      cleanups.push(() => data.remove());
      const proxy = await FaultProxy.start(hub.mqtt.url);
      cleanups.push(() => proxy.close());
      const device: Device = {
        creds: await enroll(hub, { name, labels: LABEL }),
        dataDir: data.path,
        agent: undefined,
        proxy,
        slice,
      };
      cleanups.push(() => device.agent?.close());
      return device;
    };
    const start = (d: Device) =>
      startAgent(d, d.proxy.url, { inference: { profile: 'x86-64-cpu', threads: 1 }, link: LINK });
    const t = await make('t', [0, 1, 2]);
    const a = await make('a', [3, 4, 5]);
    const h = await make('h', [6, 7, 8, 9]);
    for (const d of [t, a, h]) await postDigits(await start(d), sliceDigits(train, d.slice), 'train');
    const online = () =>
      waitFor(
        async () => (await hub.store.listDevices()).filter((x) => x.online).length === 3,
        'three online',
      );
    await online();

    const model = initialModel();
    const common = { rounds: 1, minClients: 3, seed: 42, evaluate: false, selector: LABEL };
    const finish = (id: string) => taskEnded(hub, id);
    const weightsOf = async (id: string) =>
      decodeUpdate(
        Buffer.from(
          (await api(hub, 'GET', `/v1/federated/tasks/${id}/weights?round=2`)).body.weights,
          'base64',
        ),
        model.weights.map((w) => ({ name: w.name, shape: w.shape })),
      );
    const create = async (id: string, secure: boolean) => {
      const body = taskBody(model, {
        ...common,
        id,
        ...(secure ? { deadlineS: 300, secagg: { threshold: 2, maxExamples: 200 } } : {}),
      });
      const res = await api(hub, 'POST', '/v1/federated/tasks', body);
      assert.equal(res.status, 201, JSON.stringify(res.body));
    };
    const stored = async (id: string, kind: string) =>
      (await hub.store.listSecAggMessages(id, 1))
        .filter((m) => m.kind === kind)
        .map((m) => m.deviceId)
        .sort();
    const phaseOf = async (id: string) => (await hub.store.getSecAggRound(id, 1))?.phase;
    const learning = () => t.agent?.status().outbox.learning ?? { enqueued: -1, pending: -1 };
    const restartT = async () => {
      await t.agent?.close();
      t.agent = undefined;
    };

    // The reference: plain FedAvg over the same three devices, same seed.
    await create('plain', false);
    assert.equal((await finish('plain')).status, 'done');
    const plain = await weightsOf('plain');
    const words = model.weights.reduce((n, w) => n + w.values.length, 0) + 1;
    /** What T sends in a whole secure round: keys, shares, the masked input's chunks, unmasking. */
    const perRound = 3 + Math.ceil((4 * words) / FL_CHUNK_BYTES);

    const checkRound = async (id: string) => {
      const task = await finish(id);
      assert.equal(task.status, 'done', JSON.stringify(task));
      const [round] = (await api(hub, 'GET', `/v1/federated/tasks/${id}/rounds`)).body.rounds;
      assert.equal(round.metrics.accepted, 3, JSON.stringify(round.metrics));
      assert.deepEqual(round.metrics.rejected, {});
      const masked = await weightsOf(id);
      assertSecureMatchesPlain({
        start: model.weights,
        plain: plain,
        secure: masked,
        survivors: 3,
        examples: round.metrics.examples,
        maxExamples: 200,
        label: id,
      });
      // T's side of the round went with its unmasking answer; the round is marked done.
      assert.deepEqual(readStore(t, 'SELECT task_id FROM fl_secagg'), []);
      const [mark] = readStore<{ status: string }>(t, `SELECT status FROM fl_rounds WHERE task_id = '${id}'`);
      assert.equal(mark?.status, 'submitted');
    };

    // 1. Closed after its keys. H's advertisement is held, so the round stays in `advertise`.
    let base = learning().enqueued;
    h.proxy.stall('up');
    await create('after-keys', true);
    await waitFor(
      async () => (await stored('after-keys', 'advertise')).includes(t.creds.id),
      "T's keys stored",
    );
    await waitFor(() => learning().pending === 0, "T's keys acknowledged");
    assert.equal(await phaseOf('after-keys'), 'advertise');
    await restartT();
    h.proxy.heal();
    // The share phase opens without T: A and H share, the round waits for T.
    await waitFor(
      async () => (await stored('after-keys', 'shares')).length === 2,
      'two shares stored',
      30_000,
    );
    assert.equal(await phaseOf('after-keys'), 'share');
    assert.deepEqual(await stored('after-keys', 'shares'), [a.creds.id, h.creds.id].sort());
    assert.deepEqual(
      readStore<{ phase: string }>(t, 'SELECT phase FROM fl_secagg').map((r) => r.phase),
      ['advertise'],
    );
    await start(t);
    await checkRound('after-keys');
    await waitFor(() => learning().enqueued === base + perRound, 'T to have sent the round');

    // 2. Closed after its masked input. H's advertisement is held, then passes with H's inbound
    // held in the same tick: the round waits in `share` for H, T and A having shared.
    base = learning().enqueued;
    const hBase = h.agent?.status().outbox.learning.enqueued ?? 0;
    h.proxy.stall('up');
    await create('after-mask', true);
    await waitFor(() => learning().enqueued === base + 1, 'T to advertise');
    // H has the task and trained: its advertisement waits in the proxy.
    await waitFor(() => (h.agent?.status().outbox.learning.enqueued ?? 0) > hBase, 'H to advertise');
    h.proxy.heal();
    h.proxy.stall('down');
    await waitFor(
      async () => (await stored('after-mask', 'shares')).length === 2,
      'two shares stored',
      30_000,
    );
    assert.deepEqual(await stored('after-mask', 'shares'), [a.creds.id, t.creds.id].sort());
    await waitFor(() => learning().pending === 0, "T's shares acknowledged");
    // T's events are held from now on; H hears the share phase and the mask phase opens.
    t.proxy.stall('up');
    h.proxy.heal();
    await waitFor(() => learning().enqueued === base + perRound - 1, 'T to answer the mask phase', 30_000);
    assert.deepEqual(
      readStore<{ phase: string }>(t, 'SELECT phase FROM fl_secagg').map((r) => r.phase),
      ['mask'],
    );
    assert.equal(await phaseOf('after-mask'), 'mask', 'the round waits for T');
    t.proxy.refuse(true);
    t.proxy.cut();
    await restartT();
    t.proxy.heal();
    await start(t);
    await checkRound('after-mask');
    await waitFor(() => learning().enqueued === base + perRound, 'T to have sent the round');

    // 3. The round moved on while T was down: the task stopped.
    base = learning().enqueued;
    h.proxy.stall('up');
    await create('moved-on', true);
    await waitFor(
      async () => (await stored('moved-on', 'advertise')).includes(t.creds.id),
      "T's keys stored",
    );
    await restartT();
    assert.equal(readStore(t, "SELECT 1 FROM fl_secagg WHERE task_id = 'moved-on'").length, 1);
    assert.equal((await api(hub, 'POST', '/v1/federated/tasks/moved-on/stop')).status, 200);
    h.proxy.heal();
    const agent = await start(t);
    await waitFor(
      () => readStore(t, 'SELECT 1 FROM fl_secagg').length === 0,
      "the stopped round's state deleted",
    );
    await waitFor(() => agent.status().desired.appliedRev > 0 && learning().pending === 0, 'T settled');
    assert.equal(learning().enqueued, base + 1, 'nothing sent for the stopped round after the restart');
    const view = (await (await fetch(`${agent.api.url}/v1/federated`)).json()) as {
      task: unknown;
      lastError: unknown;
    };
    assert.equal(view.task, null);
    assert.equal(view.lastError, null);
  });
});
