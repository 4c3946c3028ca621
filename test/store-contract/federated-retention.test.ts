import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { HubStore } from '../../hub/index.js';
import { contract } from './suite.js';

// Retention of federated bytes as a store contract: bounded, idempotent deletes of update
// chunks and global weights, never of an open round, never of the accounting rows.

const task = (id: string) => ({
  id,
  spec: { mode: 'sync' },
  status: 'running' as const,
  round: 1,
  serverState: null,
  best: null,
  reason: null,
  createdAt: 1,
  updatedAt: 1,
});

const chunk = (
  taskId: string,
  round: number,
  deviceId: string,
  index: number,
  total: number,
  size: number,
) => ({
  taskId,
  round,
  deviceId,
  index,
  total,
  digest: 'd'.repeat(64),
  bytes: new Uint8Array(size).fill(index + 1),
  meta: {},
  at: round * 10 + index,
});

const outcome = (taskId: string, round: number, deviceId: string) => ({
  taskId,
  round,
  deviceId,
  status: 'accepted' as const,
  reason: null,
  appliedIn: round,
  at: round * 10 + 9,
});

/** Opens round `round` of `taskId`; closes it (next weights of `round` bytes) unless `open`. */
async function round(store: HubStore, taskId: string, n: number, decided: string[], open = false) {
  await store.openFlRound({
    taskId,
    round: n,
    status: 'open',
    selected: ['a', 'b', 'c'],
    openedAt: n * 10,
    deadline: n * 10 + 5,
    closedAt: null,
    metrics: {},
  });
  if (open) return;
  const closed = await store.closeFlRound({
    taskId,
    round: n,
    status: 'closed',
    closedAt: n * 10 + 9,
    metrics: {},
    updates: decided.map((d) => outcome(taskId, n, d)),
    next: { round: n + 1, weights: new Uint8Array(100 * (n + 1)) },
    task: { round: n + 1 },
  });
  assert.equal(closed, true);
}

const rounds = async (store: HubStore, taskId: string) =>
  (await store.listFlRounds(taskId)).map((r) => r.round);

/** `(round, device)` of the chunks of `taskId` still held, in order. */
async function heldChunks(
  store: HubStore,
  taskId: string,
  upTo: number,
  devices: string[],
): Promise<string[]> {
  const out: string[] = [];
  for (let r = 1; r <= upTo; r++) {
    for (const d of devices) {
      const heads = await store.getFlChunkHeads(taskId, r, d);
      if (heads.length > 0) out.push(`${r}/${d}:${heads.length}`);
    }
  }
  return out;
}

contract('HubStore contract: federated retention', (ctx) => {
  let store: HubStore;
  before(() => {
    store = ctx().store;
  });

  test('sync: chunks of decided updates and of rounds before the bound go, in batches; an open round keeps all', async () => {
    await store.createFlTask(task('s1'), new Uint8Array(100));
    await store.createFlTask(task('other'), new Uint8Array(7));
    // Rounds 1-3 closed (a decided, b never finished), round 4 open with a late outcome for c.
    for (const n of [1, 2, 3]) {
      await store.putFlChunk(chunk('s1', n, 'a', 0, 2, 1000));
      await store.putFlChunk(chunk('s1', n, 'a', 1, 2, 500));
      await store.putFlChunk(chunk('s1', n, 'b', 0, 2, 300));
      await round(store, 's1', n, ['a']);
    }
    await round(store, 's1', 4, [], true);
    await store.putFlChunk(chunk('s1', 4, 'a', 0, 1, 50));
    await store.putFlChunk(chunk('s1', 4, 'c', 0, 1, 60));
    await store.putFlUpdate({ ...outcome('s1', 4, 'c'), status: 'late', reason: 'x', appliedIn: null });
    await store.putFlChunk(chunk('other', 1, 'a', 0, 1, 70));
    const before = await store.flStorage('s1');
    assert.deepEqual(before.chunks, { rows: 11, bytes: 3 * 1800 + 110 });

    // Decided updates only (the bound below every round): a's chunks of rounds 1-3, two per batch.
    const batches = [];
    for (;;) {
      const r = await store.pruneFlChunks('s1', { deadBefore: 0, incompleteBefore: 0, limit: 2 });
      batches.push(r);
      if (r.rows < 2) break;
    }
    assert.deepEqual(batches, [
      { rows: 2, bytes: 1500 },
      { rows: 2, bytes: 1500 },
      { rows: 2, bytes: 1500 },
      { rows: 0, bytes: 0 },
    ]);
    assert.deepEqual(await heldChunks(store, 's1', 4, ['a', 'b', 'c']), [
      '1/b:1',
      '2/b:1',
      '3/b:1',
      '4/a:1',
      '4/c:1',
    ]);
    // Rounds before 4 are over: b's unfinished updates go; the open round 4 keeps even c's decided one.
    assert.deepEqual(await store.pruneFlChunks('s1', { deadBefore: 4, incompleteBefore: 4, limit: 100 }), {
      rows: 3,
      bytes: 900,
    });
    assert.deepEqual(await heldChunks(store, 's1', 4, ['a', 'b', 'c']), ['4/a:1', '4/c:1']);
    assert.deepEqual(await store.pruneFlChunks('s1', { deadBefore: 99, incompleteBefore: 99, limit: 100 }), {
      rows: 0,
      bytes: 0,
    });
    // Nothing of another task, nothing of the accounting rows.
    assert.deepEqual((await store.flStorage('other')).chunks, { rows: 1, bytes: 70 });
    assert.deepEqual(await rounds(store, 's1'), [1, 2, 3, 4]);
    assert.equal((await store.listFlUpdates('s1')).length, 4);
    assert.deepEqual((await store.flStorage('s1')).chunks, { rows: 2, bytes: 110 });
  });

  test('async: below the staleness bound only unfinished updates go; a complete undecided one stays', async () => {
    await store.createFlTask({ ...task('a1'), spec: { mode: 'async' } }, new Uint8Array(100));
    for (const n of [1, 2, 3, 4]) await round(store, 'a1', n, n === 3 ? ['z'] : []);
    await round(store, 'a1', 5, [], true);
    await store.putFlChunk(chunk('a1', 1, 'x', 0, 1, 10)); // complete, not folded yet
    await store.putFlChunk(chunk('a1', 1, 'y', 0, 2, 20)); // half an update, too stale to finish
    await store.putFlChunk(chunk('a1', 3, 'z', 0, 1, 30)); // folded
    await store.putFlChunk(chunk('a1', 3, 'w', 0, 2, 40)); // half, still within the window
    assert.deepEqual(await store.pruneFlChunks('a1', { deadBefore: 0, incompleteBefore: 2, limit: 10 }), {
      rows: 2,
      bytes: 50,
    });
    assert.deepEqual(await heldChunks(store, 'a1', 5, ['x', 'y', 'z', 'w']), ['1/x:1', '3/w:1']);
    // The task ended: nothing is needed any more.
    assert.deepEqual(await store.pruneFlChunks('a1', { deadBefore: 99, incompleteBefore: 99, limit: 10 }), {
      rows: 2,
      bytes: 50,
    });
  });

  test('weights: rounds below the bound go, except those kept and an open round', async () => {
    // s1 holds the weights of rounds 1-4 (100, 200, 300, 400 bytes); round 4 is open.
    assert.deepEqual((await store.flStorage('s1')).weights, { rows: 4, bytes: 1000 });
    assert.deepEqual(await store.pruneFlWeights('s1', { before: 4, keep: [2], limit: 1 }), {
      rows: 1,
      bytes: 100,
    });
    assert.deepEqual(await store.pruneFlWeights('s1', { before: 4, keep: [2], limit: 1 }), {
      rows: 1,
      bytes: 300,
    });
    assert.deepEqual(await store.pruneFlWeights('s1', { before: 4, keep: [2], limit: 1 }), {
      rows: 0,
      bytes: 0,
    });
    assert.equal(await store.getFlWeights('s1', 1), undefined);
    assert.deepEqual(await store.getFlWeights('s1', 2), new Uint8Array(200));
    assert.deepEqual(await store.pruneFlWeights('s1', { before: 99, keep: [], limit: 10 }), {
      rows: 1,
      bytes: 200,
    });
    assert.deepEqual(
      await store.getFlWeights('s1', 4),
      new Uint8Array(400),
      'the open round keeps its weights',
    );
    assert.deepEqual((await store.flStorage('other')).weights, { rows: 1, bytes: 7 });
  });

  test('a round a stopped task left open is not protected', async () => {
    await store.createFlTask(task('st'), new Uint8Array(100));
    await round(store, 'st', 1, [], true);
    await store.putFlChunk(chunk('st', 1, 'a', 0, 2, 10));
    const ended = { deadBefore: 99, incompleteBefore: 99, limit: 10 };
    assert.deepEqual(await store.pruneFlChunks('st', ended), { rows: 0, bytes: 0 }, 'open while running');
    await store.updateFlTask('st', { status: 'stopped' });
    assert.deepEqual(await store.pruneFlChunks('st', ended), { rows: 1, bytes: 10 });
    assert.deepEqual(await store.pruneFlWeights('st', { before: 99, keep: [], limit: 10 }), {
      rows: 1,
      bytes: 100,
    });
  });

  let second: HubStore | undefined;
  after(async () => {
    await second?.close();
  });

  test('two handles (replicas) pruning at once delete each row once', async () => {
    second = await ctx().space.open();
    await store.createFlTask(task('r2'), new Uint8Array(100));
    for (let n = 1; n <= 6; n++) {
      for (const d of ['a', 'b', 'c', 'd']) await store.putFlChunk(chunk('r2', n, d, 0, 1, 64));
      await round(store, 'r2', n, ['a', 'b', 'c', 'd']);
    }
    const opts = { deadBefore: 7, incompleteBefore: 7, limit: 5 };
    const drain = async (s: HubStore) => {
      let rows = 0;
      for (;;) {
        const r = await s.pruneFlChunks('r2', opts);
        rows += r.rows;
        if (r.rows === 0) return rows;
      }
    };
    const [one, two] = await Promise.all([drain(store), drain(second)]);
    assert.equal(one + two, 24);
    const weights = { before: 7, keep: [], limit: 2 };
    const [w1, w2] = await Promise.all([
      store.pruneFlWeights('r2', weights),
      (second as HubStore).pruneFlWeights('r2', weights),
    ]);
    assert.equal(w1.rows + w2.rows, 4);
    assert.deepEqual(await store.flStorage('r2'), {
      chunks: { rows: 0, bytes: 0 },
      weights: { rows: 3, bytes: 700 + 600 + 500 },
    });
  });
});
