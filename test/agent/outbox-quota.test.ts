import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { type AgentStore, envelopeBytes, type LaneQuota, openAgentStore } from '../../agent/store/index.js';
import { type Lane, OutpostError } from '../../shared/index.js';
import { tempDir } from '../helpers/agent.js';
import { ackUpTo, countRows, storedSeqs } from '../helpers/outbox-store.js';

// Per-lane quotas in rows and bytes with their policies, and the loss ledger —
// exact down to the seq and the byte, including drops of events the hub may already hold.

const dirs: Array<{ remove(): void }> = [];
after(() => {
  for (const d of dirs) d.remove();
});
const BIG = 1024 * 1024;
const quota = (q: Partial<LaneQuota>): LaneQuota => ({
  maxRows: 1_000_000,
  maxBytes: 1_000_000,
  policy: 'drop-oldest',
  ttlS: 0,
  ...q,
});
function open(quotas: Partial<Record<Lane, LaneQuota>>, dir?: string): { store: AgentStore; dir: string } {
  let d = dir;
  if (d === undefined) {
    const fresh = tempDir();
    dirs.push(fresh);
    d = fresh.path;
  }
  return { store: openAgentStore({ dataDir: d, durability: 'crash-safe', quotas }), dir: d };
}
const put = (store: AgentStore, lane: Lane, n: number, body = '{"v":1}') =>
  store.outbox.enqueue(lane, 'e.x', `${body.slice(0, -1)},"n":${n}}`, 1000 + n, BIG);
const size = (seq: number, n: number, body = '{"v":1}') =>
  envelopeBytes(seq, 'e.x', 1000 + n, `${body.slice(0, -1)},"n":${n}}`);

/** enqueued = pending + acked + dropped + unconfirmed, and pending matches the rows. */
function assertBalanced(store: AgentStore, lane: Lane) {
  const c = store.outbox.counters()[lane];
  assert.equal(c.enqueued, c.pending + c.acked + c.dropped + c.unconfirmed, JSON.stringify(c));
  assert.equal(c.pending, countRows(store.db, lane));
}

describe('outbox quotas and the loss ledger', () => {
  it('back-pressure refuses with AGENT_OUTBOX_FULL naming the lane and the limit, burning no seq', () => {
    const { store } = open({ results: quota({ maxRows: 3, policy: 'back-pressure' }) });
    for (let i = 1; i <= 3; i++) assert.equal(put(store, 'results', i), i);
    assert.throws(
      () => put(store, 'results', 4),
      (err: unknown) =>
        err instanceof OutpostError &&
        err.code === 'AGENT_OUTBOX_FULL' &&
        err.http === 503 &&
        err.retryable &&
        /outbox lane results is full: maxRows 3 \(3 events pending\)/.test(err.message) &&
        (err.details as { lane: string; limit: string; max: number }).limit === 'maxRows',
    );
    assert.equal(store.outbox.counters().results.enqueued, 3);
    ackUpTo(store.outbox, store.epoch, 'results', 1);
    assert.equal(put(store, 'results', 4), 4, 'the refused event used no seq');
    assert.deepEqual(store.outbox.ledger.ranges(), [], 'back-pressure never drops');
    assertBalanced(store, 'results');
    store.close();
  });

  it('back-pressure on bytes names maxBytes; an event larger than the lane is refused as too large', () => {
    const one = size(1, 1);
    const { store } = open({ control: quota({ maxBytes: 2 * one + 1, policy: 'back-pressure' }) });
    put(store, 'control', 1);
    put(store, 'control', 2);
    assert.throws(
      () => put(store, 'control', 3),
      /is full: maxBytes \d+ \(\d+ bytes pending, \d+ more needed\)/,
    );
    assert.throws(
      () => store.outbox.enqueue('control', 'e.x', JSON.stringify('x'.repeat(3 * one)), 1, BIG),
      (err: unknown) =>
        err instanceof OutpostError &&
        err.code === 'PROTO_PAYLOAD_TOO_LARGE' &&
        /exceeds lane control's maxBytes/.test(err.message),
    );
    store.close();
  });

  it('drop-oldest keeps the newest maxRows and books the oldest in the ledger, exactly', () => {
    const { store } = open({ telemetry: quota({ maxRows: 3 }) });
    for (let i = 1; i <= 7; i++) put(store, 'telemetry', i);
    assert.deepEqual(storedSeqs(store.db, 'telemetry'), [5, 6, 7]);
    const lost = [1, 2, 3, 4].reduce((sum, n) => sum + size(n, n), 0);
    assert.deepEqual(
      store.outbox.ledger
        .ranges()
        .map(({ lane, reason, from, to, bytes }) => ({ lane, reason, from, to, bytes })),
      [{ lane: 'telemetry', reason: 'quota', from: 1, to: 4, bytes: lost }],
      'one range: consecutive drops merge',
    );
    assert.deepEqual(store.outbox.ledger.totals().telemetry, {
      quota: { count: 4, bytes: lost },
      ttl: { count: 0, bytes: 0 },
      unconfirmed: 0,
    });
    const c = store.outbox.counters().telemetry;
    assert.deepEqual([c.enqueued, c.pending, c.dropped, c.unconfirmed], [7, 3, 4, 0]);
    assert.equal(
      c.pendingBytes,
      [5, 6, 7].reduce((sum, n) => sum + size(n, n), 0),
    );
    assert.deepEqual(store.outbox.laneStates().telemetry.dropped, { from: 1, through: 4 });
    assertBalanced(store, 'telemetry');
    store.close();
  });

  it('drop-oldest on bytes drops as many small events as a big one needs', () => {
    const small = size(1, 1);
    const { store } = open({ learning: quota({ maxBytes: 10 * small }) });
    for (let i = 1; i <= 10; i++) put(store, 'learning', i);
    const bigBody = JSON.stringify({ pad: 'x'.repeat(3 * small) });
    store.outbox.enqueue('learning', 'e.big', bigBody, 5, BIG);
    const left = storedSeqs(store.db, 'learning');
    assert.equal(left.at(-1), 11);
    assert.ok(store.outbox.counters().learning.pendingBytes <= 10 * small, 'within maxBytes');
    const [range] = store.outbox.ledger.ranges();
    assert.equal(range?.from, 1);
    assert.equal(range?.to, left[0] === undefined ? undefined : left[0] - 1, 'dropped exactly the prefix');
    assert.ok((range?.to ?? 0) >= 3, 'at least three small events made room');
    assertBalanced(store, 'learning');
    store.close();
  });

  it('a dropped event that was published waits for the hub: lost if skipped, delivered if held', () => {
    const { store, dir } = open({ telemetry: quota({ maxRows: 4 }) });
    for (let i = 1; i <= 4; i++) put(store, 'telemetry', i);
    assert.deepEqual(
      store.outbox.takeBatch('telemetry', 0, 2, BIG)?.events.map((e) => e.seq),
      [1, 2],
      'published 1-2',
    );
    put(store, 'telemetry', 5);
    put(store, 'telemetry', 6); // drops 1, 2: both published → unconfirmed
    put(store, 'telemetry', 7); // drops 3: never published → lost for certain
    assert.deepEqual(
      store.outbox.ledger.ranges().map((r) => [r.from, r.to]),
      [[3, 3]],
    );
    let c = store.outbox.counters().telemetry;
    assert.deepEqual([c.dropped, c.unconfirmed], [1, 2]);
    assert.equal(store.outbox.ledger.totals().telemetry.unconfirmed, 2);
    assertBalanced(store, 'telemetry');
    store.close();

    // The fate of 1 and 2 survives a restart; the hub then answers: it held 1, skipped 2-3.
    const again = open({ telemetry: quota({ maxRows: 4 }) }, dir).store;
    assert.deepEqual(again.outbox.laneStates().telemetry.dropped, { from: 1, through: 3 });
    const answer = { from: 1, through: 3, skipped: [[2, 3]] as Array<[number, number]> };
    const ack = {
      v: 1 as const,
      epoch: again.epoch,
      lane: 'telemetry' as const,
      hwm: 3,
      stored: 0,
      duplicates: 0,
    };
    const outcome = again.outbox.applyAck({ ...ack, dropped: answer });
    assert.deepEqual(outcome.resolved, { lost: 1, delivered: 1, certainInRange: 1, skippedByHub: 2 });
    assert.deepEqual(
      again.outbox.ledger.ranges().map((r) => [r.from, r.to, r.bytes]),
      [
        [2, 2, size(2, 2)],
        [3, 3, size(3, 3)],
      ],
    );
    c = again.outbox.counters().telemetry;
    assert.deepEqual([c.enqueued, c.pending, c.acked, c.dropped, c.unconfirmed], [7, 4, 1, 2, 0]);
    assert.equal(again.outbox.laneStates().telemetry.dropped, undefined, 'nothing left to ask');
    assert.deepEqual(
      again.outbox.applyAck({ ...ack, dropped: answer }),
      { deleted: 0 },
      'a repeated answer is a no-op',
    );
    assertBalanced(again, 'telemetry');
    again.close();
  });

  it('resolves a partial answer and keeps asking from where it stopped; reasons stay apart', () => {
    let mono = 0;
    const store = openAgentStore({
      dataDir: (() => {
        const d = tempDir();
        dirs.push(d);
        return d.path;
      })(),
      durability: 'crash-safe',
      monoNow: () => mono,
      quotas: { telemetry: quota({ maxRows: 6, ttlS: 10 }) },
    });
    for (let i = 1; i <= 6; i++) put(store, 'telemetry', i);
    store.outbox.takeBatch('telemetry', 0, 6, BIG); // all six published
    mono = 20_000;
    assert.equal(store.outbox.expire('telemetry', 3, 1)?.count, 3, 'seqs 1-3 expire (ttl)');
    for (let i = 7; i <= 12; i++) put(store, 'telemetry', i); // 10-12 push out 4-6 (quota)
    assert.equal(store.outbox.counters().telemetry.unconfirmed, 6);
    const ack = { v: 1 as const, epoch: store.epoch, lane: 'telemetry' as const, stored: 0, duplicates: 0 };
    // The hub answers for 1-4 only (a cut-short answer): it skipped 2-4.
    store.outbox.applyAck({ ...ack, hwm: 6, dropped: { from: 1, through: 4, skipped: [[2, 4]] } });
    assert.deepEqual(
      store.outbox.laneStates().telemetry.dropped,
      { from: 5, through: 6 },
      'asks again from 5',
    );
    store.outbox.applyAck({ ...ack, hwm: 6, dropped: { from: 5, through: 6, skipped: [[5, 6]] } });
    assert.deepEqual(
      store.outbox.ledger.ranges().map((r) => [r.reason, r.from, r.to]),
      [
        ['ttl', 2, 3],
        ['quota', 4, 6],
      ],
      'seq 1 reached the hub; the runs keep their reasons, and 5-6 extend 4',
    );
    const t = store.outbox.ledger.totals().telemetry;
    assert.deepEqual([t.ttl.count, t.quota.count, t.unconfirmed], [2, 3, 0]);
    assertBalanced(store, 'telemetry');
    store.close();
  });

  it('every lane has its own quota; a lane without one is unlimited', () => {
    const { store } = open({ telemetry: quota({ maxRows: 1 }) });
    for (let i = 1; i <= 5; i++) {
      put(store, 'telemetry', i);
      put(store, 'results', i);
    }
    assert.equal(store.outbox.counters().telemetry.pending, 1);
    assert.equal(store.outbox.counters().results.pending, 5);
    store.close();
  });
});
