import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import type { HubStore } from '../../hub/index.js';
import { MAX_SKIP_RANGES, type UplinkBatch } from '../../shared/index.js';
import { makeBatch } from '../helpers/hub.js';
import { contract } from './suite.js';

// Loss ledger at the hub store: a batch's `dropped` moves the high-water mark over
// seqs the agent dropped (so a drop never blocks the lane), records them as skipped, and the
// answer says which seqs of the asked range were skipped and which the hub already held.

const EPOCH = 'epochdrops1';
const withDrop = (batch: UplinkBatch, from: number, through: number): UplinkBatch => ({
  ...batch,
  dropped: { from, through },
});
const dropOnly = (from: number, through: number, batchId: string, lane: UplinkBatch['lane'] = 'results') => ({
  v: 1 as const,
  epoch: EPOCH,
  lane,
  batchId,
  events: [],
  dropped: { from, through },
});

contract('HubStore contract: skipping dropped seqs', (ctx) => {
  let store: HubStore;
  before(async () => {
    store = ctx().store;
    await store.createDevice({ id: 'd1', secretHash: 'x', createdAt: 1 });
  });

  test('a drop moves the mark, stores the events after it, and answers the skipped range', async () => {
    const r = await store.ingestBatch('d1', withDrop(makeBatch(EPOCH, 6, 2, 'a'), 1, 5), 10);
    assert.deepEqual(r, {
      hwm: 7,
      stored: 2,
      duplicates: 0,
      skipped: 5,
      dropped: { from: 1, through: 5, skipped: [[1, 5]] },
    });
    const events = await store.listEvents('d1', { epoch: EPOCH, lane: 'results', limit: 100 });
    assert.deepEqual(
      events.map((e) => e.seq),
      [6, 7],
    );
  });

  test('seqs the hub already held are not skipped, and a resent drop gets the same answer', async () => {
    await store.ingestBatch('d1', makeBatch(EPOCH, 1, 3, 'b', 'telemetry'), 10);
    const first = await store.ingestBatch('d1', dropOnly(1, 5, 'c', 'telemetry'), 11);
    assert.deepEqual(first, {
      hwm: 5,
      stored: 0,
      duplicates: 0,
      skipped: 2,
      dropped: { from: 1, through: 5, skipped: [[4, 5]] },
    });
    const again = await store.ingestBatch('d1', dropOnly(1, 5, 'd', 'telemetry'), 12);
    assert.deepEqual(again, { ...first, skipped: 0 }, 'idempotent: nothing skipped twice');
  });

  test('without `dropped` a gap is never skipped: a lost batch is waited for', async () => {
    const gap = await store.ingestBatch('d1', makeBatch(EPOCH, 10, 2, 'e', 'telemetry'), 13);
    assert.deepEqual(gap, { hwm: 5, stored: 0, duplicates: 0 });
  });

  test('adjacent skips merge; totals and ranges are listed per (epoch, lane)', async () => {
    await store.ingestBatch('d1', dropOnly(6, 8, 'f', 'telemetry'), 14);
    await store.ingestBatch('d1', withDrop(makeBatch(EPOCH, 10, 1, 'g', 'telemetry'), 9, 9), 15);
    assert.deepEqual(
      (await store.listSkips('d1')).map((s) => [s.lane, s.from, s.to]),
      [
        ['results', 1, 5],
        ['telemetry', 4, 9],
      ],
    );
    assert.deepEqual(await store.skipTotals('d1'), [
      { epoch: EPOCH, lane: 'results', count: 5 },
      { epoch: EPOCH, lane: 'telemetry', count: 6 },
    ]);
    assert.deepEqual(await store.skipTotals('nobody'), []);
  });

  test('a long answer is cut short before the first range it leaves out', async () => {
    const lane = 'learning';
    // Ranges [1,1], [3,3], [5,5], …: one dropped seq, one stored, over and over.
    for (let i = 0; i < MAX_SKIP_RANGES + 10; i++) {
      const seq = 2 * i + 1;
      await store.ingestBatch('d1', withDrop(makeBatch(EPOCH, seq + 1, 1, `h${i}`, lane), seq, seq), 16);
    }
    const r = await store.ingestBatch('d1', dropOnly(1, 2 * MAX_SKIP_RANGES + 19, 'i', lane), 17);
    assert.equal(r.dropped?.skipped.length, MAX_SKIP_RANGES);
    assert.equal(r.dropped?.through, 2 * MAX_SKIP_RANGES, 'through ends before the range left out');
    assert.deepEqual(r.dropped?.skipped.at(-1), [2 * MAX_SKIP_RANGES - 1, 2 * MAX_SKIP_RANGES - 1]);
    const rest = await store.ingestBatch(
      'd1',
      dropOnly(2 * MAX_SKIP_RANGES + 1, 2 * MAX_SKIP_RANGES + 19, 'j', lane),
      18,
    );
    assert.equal(rest.dropped?.skipped.length, 10);
  });
});
