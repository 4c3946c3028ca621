import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { type ModelWeights, trainLocal } from '../../federated/index.js';
import type { Hub } from '../../hub/index.js';
import { HUB_DB_FILE } from '../../hub/store/sqlite.js';
import { DIGIT_PIXELS, loadDigits } from '../../inference/index.js';
import { initialModel, taskBody } from '../fl-system/fleet.js';
import {
  latestTask,
  type ProtocolClient,
  protocolClient,
  taskWeights,
  updateEvents,
} from '../fl-system/protocol-client.js';
import { Cleanups, tempDir, waitFor } from '../helpers/fixtures.js';
import { api, sendBatch, startHub } from '../helpers/hub.js';

// Retention of old rounds on a real hub: real rounds of two protocol-level devices, the
// store's bytes measured. Round 1's update is real local training (the hub's evaluation on
// MNIST digits makes it the best round); later updates are zero, so the best stays round 1
// while newer rounds close, and the best model must outlive the `keepRounds` window.

/** Free bytes inside the SQLite file (pages on its freelist): what deletes gave back. */
function freeBytes(dataDir: string): number {
  const db = new Database(join(dataDir, HUB_DB_FILE));
  try {
    const pages = Number(db.pragma('freelist_count', { simple: true }));
    return pages * Number(db.pragma('page_size', { simple: true }));
  } finally {
    db.close();
  }
}

/**
 * Runs every round of `taskId` to the end: both devices send the update of `deltaOf(round)`.
 * Returns the update bytes sent.
 */
async function playTask(
  hub: Hub,
  taskId: string,
  clients: ProtocolClient[],
  deltaOf: (round: number, global: ModelWeights) => ModelWeights,
): Promise<number> {
  let sent = 0;
  for (let round = 1; ; round++) {
    const state = await waitFor(async () => {
      const t = (await api(hub, 'GET', `/v1/federated/tasks/${taskId}`)).body;
      if (t.status !== 'running') return { done: true };
      const tasks = clients.map((c) => latestTask(c));
      return tasks.every((x) => x?.id === taskId && x.round === round) && { done: false };
    }, `round ${round} of ${taskId} at both devices`);
    if (state.done) return sent;
    for (const c of clients) {
      const task = latestTask(c);
      assert.ok(task);
      const delta = deltaOf(round, taskWeights(task));
      const events = updateEvents(task, delta, { examples: 100, norm: 1, loss: 0.5, accuracy: 0.5 });
      for (const e of events) sent += Buffer.from((e.body as { bytes: string }).bytes, 'base64').byteLength;
      const batch = { v: 1 as const, epoch: `${taskId}-r${round}-epoch`, lane: 'learning' as const };
      const ack = await sendBatch(c.device, c.id, { ...batch, batchId: `${taskId}-${round}`, events });
      assert.equal(ack.stored, events.length);
    }
  }
}

/** The rounds of `taskId` whose global weights the store holds, 1..upTo. */
async function weightRounds(hub: Hub, taskId: string, upTo: number): Promise<number[]> {
  const held: number[] = [];
  for (let r = 1; r <= upTo; r++) if ((await hub.store.getFlWeights(taskId, r)) !== undefined) held.push(r);
  return held;
}

describe('federated retention on a hub', () => {
  const cleanups = new Cleanups();
  after(() => cleanups.run());

  it('deletes old update bytes and weights after each round and at start; keeps the last N, the best and the current round', async (t) => {
    const model = initialModel();
    const digits = loadDigits(10, 0);
    const trained = await trainLocal({
      model,
      samples: { x: digits.pixels, y: digits.labels, count: digits.labels.length, features: DIGIT_PIXELS },
      lr: 0.1,
      epochs: 1,
      batchSize: 10,
      seed: 1,
    });
    // Round 1: the real training delta; afterwards nothing changes the model.
    const deltaOf = (round: number, global: ModelWeights): ModelWeights =>
      global.map((g, i) => {
        const t = trained.weights[i];
        assert.ok(t);
        const values = new Float32Array(g.values.length);
        if (round === 1)
          for (let k = 0; k < values.length; k++) values[k] = (t.values[k] ?? 0) - (g.values[k] ?? 0);
        return { name: g.name, shape: [...g.shape], values };
      });
    const body = (id: string, rounds: number) =>
      taskBody(model, { id, rounds, minClients: 2, clipNorm: 100, hubEval: { perClass: 10 } });
    const dir = tempDir('outpost-fl-retention-');
    cleanups.push(() => dir.remove());

    // A hub that keeps every round's weights; update bytes still go once decided.
    const keepAll = await startHub(dir.path, { federated: { retention: { keepRounds: 1000 } } });
    const first = [
      await protocolClient(keepAll, 'ret-a', cleanups),
      await protocolClient(keepAll, 'ret-b', cleanups),
    ];
    assert.equal((await api(keepAll, 'POST', '/v1/federated/tasks', body('old', 5))).status, 201);
    const sent = await playTask(keepAll, 'old', first, deltaOf);
    const old = await keepAll.store.getFlTask('old');
    assert.equal(old?.status, 'done', JSON.stringify(old));
    assert.equal(old?.best?.round, 1, 'the trained round is the best; the unchanged ones do not beat it');
    const weightBytes = (await keepAll.store.getFlWeights('old', 1))?.byteLength ?? 0;
    assert.ok(weightBytes > 50_000);
    await waitFor(
      async () => (await keepAll.store.flStorage('old')).chunks.rows === 0,
      'update bytes deleted',
    );
    assert.deepEqual(await keepAll.store.flStorage('old'), {
      chunks: { rows: 0, bytes: 0 },
      weights: { rows: 6, bytes: 6 * weightBytes },
    });
    t.diagnostic(`update bytes sent in 5 rounds: ${sent}; held once the rounds closed: 0`);
    // The accounting stays: every round and every accepted update.
    assert.equal((await keepAll.store.listFlRounds('old')).filter((r) => r.status === 'closed').length, 5);
    assert.equal(
      (await keepAll.store.listFlUpdates('old')).filter((u) => u.status === 'accepted').length,
      10,
    );
    await keepAll.close();
    const freeBefore = freeBytes(dir.path);

    // The same data under `keepRounds: 2`: the start prunes the existing task.
    const hub = await startHub(dir.path, { federated: { retention: { keepRounds: 2, batchRows: 1 } } });
    cleanups.push(() => hub.close());
    await waitFor(
      async () => (await hub.store.flStorage('old')).weights.rows <= 3,
      'old weights pruned at start',
    );
    await hub.federated.retention.idle();
    // Task round 6 (done): rounds 5 and 6 are the last two models, round 2 the best round's.
    assert.deepEqual(await weightRounds(hub, 'old', 6), [2, 5, 6]);
    const freed = freeBytes(dir.path) - freeBefore;
    t.diagnostic(
      `weights of one round: ${weightBytes} bytes; freed in the SQLite file by the start prune: ${freed} bytes`,
    );
    assert.ok(
      freed >= 3 * weightBytes * 0.75,
      `freed ${freed} bytes in the file for ${3 * weightBytes} of weights`,
    );
    const best = await api(hub, 'GET', '/v1/federated/tasks/old/weights?round=2');
    assert.equal(best.status, 200);
    assert.equal((await api(hub, 'GET', '/v1/federated/tasks/old/weights?round=3')).status, 404);

    // A new task trains to its end with the pruning after every round.
    const clients = [
      await protocolClient(hub, 'ret-c', cleanups),
      await protocolClient(hub, 'ret-d', cleanups),
    ];
    assert.equal((await api(hub, 'POST', '/v1/federated/tasks', body('new', 6))).status, 201);
    await playTask(hub, 'new', clients, deltaOf);
    const done = await hub.store.getFlTask('new');
    assert.equal(done?.status, 'done', JSON.stringify(done));
    assert.equal(done?.best?.round, 1);
    await waitFor(async () => (await weightRounds(hub, 'new', 7)).length <= 3, 'new task pruned');
    await hub.federated.retention.idle();
    assert.deepEqual(await weightRounds(hub, 'new', 7), [2, 6, 7]);
    assert.deepEqual((await hub.store.flStorage('new')).chunks, { rows: 0, bytes: 0 });
    const rounds = await hub.store.listFlRounds('new');
    assert.deepEqual(
      rounds.map((r) => [r.round, r.status, r.metrics.accepted]),
      [1, 2, 3, 4, 5, 6].map((r) => [r, 'closed', 2]),
    );
  });
});
