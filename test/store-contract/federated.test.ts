import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import type { HubStore } from '../../hub/index.js';
import { OutpostError } from '../../shared/index.js';
import { contract } from './suite.js';

// Federated tasks and rounds as a store contract.

const task = (id: string, at: number) => ({
  id,
  spec: { model: 'digits', rounds: 3 },
  status: 'running' as const,
  round: 1,
  serverState: null,
  best: null,
  reason: null,
  createdAt: at,
  updatedAt: at,
});

contract('HubStore contract: federated', (ctx) => {
  let store: HubStore;
  before(() => {
    store = ctx().store;
  });

  test('tasks: created once with round-1 weights, patched, listed newest first', async () => {
    await store.createFlTask(task('t1', 10), new Uint8Array([1, 2, 3]));
    await assert.rejects(
      store.createFlTask(task('t1', 11), new Uint8Array([9])),
      (err) => err instanceof OutpostError && err.code === 'FL_BAD_PARAMS',
    );
    await store.createFlTask(task('t2', 20), new Uint8Array([4]));
    assert.deepEqual(
      (await store.listFlTasks()).map((t) => t.id),
      ['t2', 't1'],
    );
    assert.deepEqual(await store.getFlWeights('t1', 1), new Uint8Array([1, 2, 3]));
    assert.equal(await store.getFlWeights('t1', 2), undefined);
    await store.updateFlTask('t1', { serverState: 'adam', best: { round: 1, accuracy: 0.5 }, updatedAt: 30 });
    const t1 = await store.getFlTask('t1');
    assert.deepEqual(
      [t1?.serverState, t1?.best, t1?.updatedAt, t1?.spec],
      ['adam', { round: 1, accuracy: 0.5 }, 30, { model: 'digits', rounds: 3 }],
    );
    assert.equal(await store.getFlTask('none'), undefined);
  });

  test('rounds: chunks once, pending until decided, closed in one step with the next weights', async () => {
    const round = {
      taskId: 't1',
      round: 1,
      status: 'open' as const,
      selected: ['a', 'b'],
      openedAt: 40,
      deadline: 100,
      closedAt: null,
      metrics: {},
    };
    await store.openFlRound(round);
    await store.openFlRound({ ...round, deadline: 999 });
    assert.equal((await store.getFlRound('t1', 1))?.deadline, 100, 'a second open is ignored');
    const chunk = (deviceId: string, index: number, at: number) => ({
      taskId: 't1',
      round: 1,
      deviceId,
      index,
      total: 2,
      digest: `d${index}`,
      bytes: new Uint8Array([index, 7]),
      meta: { examples: 5 },
      at,
    });
    assert.equal(await store.putFlChunk(chunk('a', 0, 50)), 1);
    assert.equal(await store.putFlChunk(chunk('a', 0, 51)), 1, 'a duplicate chunk is ignored');
    assert.equal(await store.putFlChunk(chunk('a', 1, 52)), 2);
    assert.equal(await store.putFlChunk(chunk('b', 0, 53)), 1);
    assert.deepEqual(
      (await store.getFlChunks('t1', 1, 'a')).map((c) => [c.index, [...c.bytes], c.meta]),
      [
        [0, [0, 7], { examples: 5 }],
        [1, [1, 7], { examples: 5 }],
      ],
    );
    assert.deepEqual(await store.listFlPending('t1', 1), [
      { round: 1, deviceId: 'a', chunks: 2, total: 2, firstAt: 50 },
      { round: 1, deviceId: 'b', chunks: 1, total: 2, firstAt: 53 },
    ]);
    const late = {
      taskId: 't1',
      round: 1,
      deviceId: 'b',
      status: 'late' as const,
      reason: 'x',
      appliedIn: null,
      at: 60,
    };
    assert.equal(await store.putFlUpdate(late), true);
    assert.equal(await store.putFlUpdate(late), false, 'one outcome per key');
    const closing = {
      taskId: 't1',
      round: 1,
      status: 'closed' as const,
      closedAt: 70,
      metrics: { accepted: 1 },
      updates: [
        {
          taskId: 't1',
          round: 1,
          deviceId: 'a',
          status: 'accepted' as const,
          reason: null,
          appliedIn: 1,
          at: 70,
        },
      ],
      next: { round: 2, weights: new Uint8Array([5, 5]) },
      task: { round: 2 },
    };
    assert.equal(await store.closeFlRound(closing), true);
    // A second close (a stale replica) writes nothing.
    assert.equal(
      await store.closeFlRound({ ...closing, status: 'failed', closedAt: 99, task: { round: 9 } }),
      false,
    );
    assert.deepEqual(await store.listFlPending('t1'), []);
    const closed = await store.getFlRound('t1', 1);
    assert.deepEqual(
      [closed?.status, closed?.closedAt, closed?.metrics, closed?.selected],
      ['closed', 70, { accepted: 1 }, ['a', 'b']],
    );
    assert.deepEqual(await store.getFlWeights('t1', 2), new Uint8Array([5, 5]));
    const t1 = await store.getFlTask('t1');
    assert.deepEqual([t1?.round, t1?.updatedAt], [2, 70]);
    assert.deepEqual(
      (await store.listFlUpdates('t1')).map((u) => [u.deviceId, u.status, u.appliedIn]),
      [
        ['a', 'accepted', 1],
        ['b', 'late', null],
      ],
    );
    assert.equal((await store.listFlRounds('t1')).length, 1);
  });

  test('evaluations are stored once per device and round', async () => {
    const e = { taskId: 't1', round: 1, deviceId: 'a', examples: 10, loss: 0.25, accuracy: 0.75 };
    await store.putFlEval(e);
    await store.putFlEval({ ...e, accuracy: 0.1 });
    assert.deepEqual(await store.listFlEvals('t1', 1), [e]);
  });

  test('chunk heads without bytes; chunks dropped from an index on (an upload that hashed wrong)', async () => {
    const part = (index: number, bytes: number[]) => ({
      taskId: 't2',
      round: 1,
      deviceId: 'c',
      index,
      total: 3,
      digest: 'e'.repeat(64),
      bytes: new Uint8Array(bytes),
      meta: index === 0 ? { examples: 3 } : {},
      at: 80 + index,
    });
    await store.putFlChunk(part(0, []));
    await store.putFlChunk(part(1, [1, 2, 3]));
    await store.putFlChunk(part(2, [4]));
    assert.deepEqual(await store.getFlChunkHeads('t2', 1, 'c'), [
      { index: 0, total: 3, digest: 'e'.repeat(64), size: 0 },
      { index: 1, total: 3, digest: 'e'.repeat(64), size: 3 },
      { index: 2, total: 3, digest: 'e'.repeat(64), size: 1 },
    ]);
    assert.equal(await store.dropFlChunks('t2', 1, 'c', 1), 2);
    assert.deepEqual(
      (await store.getFlChunks('t2', 1, 'c')).map((c) => [c.index, c.meta]),
      [[0, { examples: 3 }]],
    );
    assert.deepEqual(await store.getFlChunkHeads('t2', 1, 'nobody'), []);
  });
});
