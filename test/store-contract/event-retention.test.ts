import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { DEFAULT_DRIFT_SETTINGS } from '../../hub/drift/window.js';
import type { HubStore } from '../../hub/index.js';
import type { EventLaneRef, LearningKeep } from '../../hub/store/event-retention-types.js';
import type { UplinkBatch } from '../../shared/index.js';
import { makeBatch } from '../helpers/hub.js';
import { deviceReport, telemetryBatch } from '../helpers/telemetry.js';
import { contract } from './suite.js';

// Retention of uplink events as a store contract: bounded deletes of old events, never one a
// reader still needs (either telemetry fold, the re-scorer, an open federated round), never
// the high-water marks: a batch sent again after its events went is still a duplicate.

const OLD = 1_000;
const YOUNG = 9_000;
const CUT = 5_000;

async function device(store: HubStore, id: string): Promise<void> {
  await store.createDevice({ id, secretHash: 'x', createdAt: 1 });
}

/** Prunes `ref` batch by batch as the hub's pass does; the events deleted per batch. */
async function pruneLane(
  store: HubStore,
  ref: EventLaneRef,
  limit: number,
  keep: readonly LearningKeep[] = [],
): Promise<number[]> {
  const batches: number[] = [];
  let afterSeq = 0;
  for (;;) {
    const r = await store.pruneEvents(ref, { receivedBefore: CUT, afterSeq, keep, limit });
    batches.push(r.deleted);
    afterSeq = r.lastSeq;
    if (r.done) return batches;
  }
}

const seqs = async (store: HubStore, deviceId: string, lane: EventLaneRef['lane']) =>
  (await store.listEvents(deviceId, { lane, limit: 1000 })).map((e) => e.seq);

const learning = (epoch: string, bodies: Array<{ task: string; round: number }>): UplinkBatch => ({
  v: 1,
  epoch,
  lane: 'learning',
  batchId: `${epoch}-l`,
  events: bodies.map((b, i) => ({
    seq: i + 1,
    type: 'fl.eval',
    at: 1,
    body: { ...b, examples: 1, loss: 0, accuracy: 0 },
  })),
});

const flTask = (id: string, round: number) => ({
  id,
  spec: { mode: 'sync' },
  status: 'running' as const,
  round,
  serverState: null,
  best: null,
  reason: null,
  createdAt: 1,
  updatedAt: 1,
});

contract('HubStore contract: event retention', (ctx) => {
  let store: HubStore;
  before(() => {
    store = ctx().store;
  });

  test('old events go in bounded batches, young ones stay; the marks keep a re-sent batch a duplicate', async () => {
    await device(store, 'ev-a');
    await store.ingestBatch('ev-a', makeBatch('e1', 1, 5, 'old'), OLD);
    await store.ingestBatch('ev-a', makeBatch('e1', 6, 3, 'young'), YOUNG);
    const ref: EventLaneRef = { deviceId: 'ev-a', epoch: 'e1', lane: 'results' };
    assert.deepEqual(await store.listEventLanes(undefined, 10), [ref]);

    assert.deepEqual(await pruneLane(store, ref, 2), [2, 2, 1]);
    assert.deepEqual(await seqs(store, 'ev-a', 'results'), [6, 7, 8]);
    assert.deepEqual(await pruneLane(store, ref, 2), [0], 'nothing old is left');

    // Exactly-once rests on the mark, not on the rows: the pruned batch is a duplicate.
    assert.deepEqual(await store.ingestBatch('ev-a', makeBatch('e1', 1, 5, 'old'), YOUNG + 1), {
      hwm: 8,
      stored: 0,
      duplicates: 5,
    });
    assert.deepEqual(await seqs(store, 'ev-a', 'results'), [6, 7, 8]);
    assert.equal(await store.countEvents('ev-a'), 3);
    // The listing pages on from an event that no longer exists.
    const page = await store.listEvents('ev-a', {
      after: { epoch: 'e1', lane: 'results', seq: 2 },
      limit: 2,
    });
    assert.deepEqual(
      page.map((e) => e.seq),
      [6, 7],
    );
  });

  test('telemetry stays until both folds have read it, up to their cursors', async () => {
    await device(store, 'ev-t');
    const ref: EventLaneRef = { deviceId: 'ev-t', epoch: 'e1', lane: 'telemetry' };
    const reports = [1, 2, 3, 4].map((k) => ({ kind: 'device' as const, body: deviceReport(k * 1000, k) }));
    await store.ingestBatch('ev-t', telemetryBatch('e1', 1, reports), OLD);
    assert.deepEqual(await pruneLane(store, ref, 10), [0], 'no fold has read them');

    // The telemetry fold reads two of them; the model-metrics fold none yet.
    const drift = DEFAULT_DRIFT_SETTINGS;
    assert.equal((await store.foldTelemetry({ limit: 2, drift, now: YOUNG })).more, true);
    assert.deepEqual(await pruneLane(store, ref, 10), [0], 'the model-metrics fold is behind');
    for (;;) if ((await store.foldModelTelemetry(1000)).events === 0) break;
    assert.deepEqual(await pruneLane(store, ref, 10), [2], 'both folds passed seqs 1-2 only');
    assert.deepEqual(await seqs(store, 'ev-t', 'telemetry'), [3, 4]);

    for (;;) if (!(await store.foldTelemetry({ limit: 2, drift, now: YOUNG })).more) break;
    assert.deepEqual(await pruneLane(store, ref, 10), [2]);
    assert.deepEqual(await seqs(store, 'ev-t', 'telemetry'), []);
    // What the fold made of them stays.
    assert.equal((await store.getDeviceTelemetry('ev-t'))?.latest.at, 4000);
  });

  test('inference.rescore events are never deleted (pending, or holding their outcome)', async () => {
    await device(store, 'ev-r');
    const batch = makeBatch('e1', 1, 3, 'r');
    for (const e of batch.events) if (e.seq !== 2) e.type = 'inference.rescore';
    await store.ingestBatch('ev-r', batch, OLD);
    await store.putRescore({
      deviceId: 'ev-r',
      epoch: 'e1',
      lane: 'results',
      seq: 1,
      model: 'm',
      version: null,
      engine: null,
      outputs: { y: 1 },
      error: null,
      at: OLD,
    });
    assert.deepEqual(await pruneLane(store, { deviceId: 'ev-r', epoch: 'e1', lane: 'results' }, 10), [1]);
    assert.deepEqual(await seqs(store, 'ev-r', 'results'), [1, 3]);
    assert.equal((await store.listRescores('ev-r', 10)).length, 1);
    assert.equal((await store.pendingRescores(10, [])).filter((p) => p.deviceId === 'ev-r').length, 1);
  });

  test('learning events of open rounds and of rounds the caller keeps stay', async () => {
    await device(store, 'ev-l');
    await store.createFlTask(flTask('ft', 1), new Uint8Array(4));
    await store.createFlTask(flTask('as', 3), new Uint8Array(4));
    const opened = (round: number) => ({
      taskId: 'ft',
      round,
      status: 'open' as const,
      selected: ['ev-l'],
      openedAt: round,
      deadline: round + 1,
      closedAt: null,
      metrics: {},
    });
    await store.openFlRound(opened(1));
    await store.closeFlRound({
      taskId: 'ft',
      round: 1,
      status: 'closed',
      closedAt: 2,
      metrics: {},
      updates: [],
      next: { round: 2, weights: new Uint8Array(4) },
      task: { round: 2 },
    });
    await store.openFlRound(opened(2));
    const bodies = [
      { task: 'ft', round: 1 },
      { task: 'ft', round: 2 },
      { task: 'gone', round: 1 },
      { task: 'as', round: 3 },
      { task: 'as', round: 2 },
    ];
    await store.ingestBatch('ev-l', learning('e1', bodies), OLD);
    const ref: EventLaneRef = { deviceId: 'ev-l', epoch: 'e1', lane: 'learning' };
    assert.deepEqual(await pruneLane(store, ref, 2, [{ task: 'as', fromRound: 3 }]), [1, 1, 1]);
    const left = await store.listEvents('ev-l', { lane: 'learning', limit: 10 });
    assert.deepEqual(
      left.map((e) => e.body),
      [bodies[1], bodies[3]].map((b) => ({ ...b, examples: 1, loss: 0, accuracy: 0 })),
    );
    // Once the round closes, its events go too.
    await store.closeFlRound({
      taskId: 'ft',
      round: 2,
      status: 'closed',
      closedAt: 3,
      metrics: {},
      updates: [],
      task: { round: 2, status: 'done' },
    });
    assert.deepEqual(await pruneLane(store, ref, 10, [{ task: 'as', fromRound: 3 }]), [1]);
    assert.deepEqual(await seqs(store, 'ev-l', 'learning'), [4]);
  });

  test('two handles pruning at once delete each event once', async () => {
    const second = await ctx().space.open();
    try {
      await device(store, 'ev-c');
      await store.ingestBatch('ev-c', makeBatch('e1', 1, 40, 'c'), OLD);
      const ref: EventLaneRef = { deviceId: 'ev-c', epoch: 'e1', lane: 'results' };
      const [a, b] = await Promise.all([pruneLane(store, ref, 3), pruneLane(second, ref, 3)]);
      const sum = (xs: number[]) => xs.reduce((s, x) => s + x, 0);
      assert.equal(sum(a) + sum(b), 40);
      assert.equal(await store.countEvents('ev-c'), 0);
    } finally {
      await second.close();
    }
  });
});
