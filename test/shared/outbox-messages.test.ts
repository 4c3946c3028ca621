import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  AckSchema,
  DropAnswerSchema,
  decodeMessage,
  LedgerReportSchema,
  PingSchema,
  PongSchema,
  ReportedStateSchema,
  UplinkBatchSchema,
} from '../../shared/index.js';

// Outbox wire messages: a batch's `dropped`, the ack's answer, ping/pong, the ledger.

const epoch = 'k3J9xQ2mTz8A';
const event = (seq: number) => ({ seq, type: 'temp', at: 1, body: { seq } });
const decodeBatch = (value: unknown) => decodeMessage(UplinkBatchSchema, JSON.stringify(value));
const reason = (r: { ok: boolean; reason?: string }) => (r.ok ? '' : (r.reason ?? ''));

test('a batch may carry `dropped`, and then may have no event', () => {
  const base = { v: 1, epoch, lane: 'telemetry', batchId: 'b' };
  assert.equal(decodeBatch({ ...base, events: [event(6)], dropped: { from: 1, through: 5 } }).ok, true);
  assert.equal(decodeBatch({ ...base, events: [], dropped: { from: 3, through: 5 } }).ok, true);
  assert.match(
    reason(decodeBatch({ ...base, events: [] })),
    /^events: a batch without `dropped` needs an event/,
  );
  assert.match(
    reason(decodeBatch({ ...base, events: [event(5)], dropped: { from: 1, through: 5 } })),
    /^events\.0\.seq: a batch never carries a dropped event/,
  );
  assert.match(reason(decodeBatch({ ...base, events: [], dropped: { from: 6, through: 5 } })), /^dropped: /);
  assert.match(
    reason(decodeBatch({ ...base, events: [], dropped: { from: 0, through: 5 } })),
    /^dropped\.from: /,
  );
});

test('a drop answer lists ascending, disjoint ranges inside its range', () => {
  const ok = {
    from: 3,
    through: 20,
    skipped: [
      [3, 4],
      [8, 20],
    ],
  };
  assert.equal(DropAnswerSchema.safeParse(ok).success, true);
  assert.equal(DropAnswerSchema.safeParse({ from: 3, through: 20, skipped: [] }).success, true);
  for (const skipped of [
    [[2, 4]],
    [[3, 21]],
    [[5, 4]],
    [
      [3, 6],
      [6, 8],
    ],
    [
      [9, 10],
      [3, 4],
    ],
  ]) {
    const r = DropAnswerSchema.safeParse({ from: 3, through: 20, skipped });
    assert.equal(r.success, false, JSON.stringify(skipped));
  }
  const ack = { v: 1, epoch, lane: 'results', hwm: 20, stored: 0, duplicates: 0, skipped: 2, dropped: ok };
  assert.deepEqual(decodeMessage(AckSchema, JSON.stringify(ack)), {
    ok: true,
    value: ack,
    tolerated: [],
  });
});

test('ping and pong are told apart by `pong`; a field they do not know is dropped', () => {
  assert.equal(PingSchema.safeParse({ v: 1, id: 'p1', at: 5 }).success, true);
  assert.equal(PingSchema.safeParse({ v: 1, id: '', at: 5 }).success, false);
  assert.equal(PongSchema.safeParse({ v: 1, pong: 'p1', at: 5 }).success, true);
  assert.deepEqual(PongSchema.parse({ v: 1, pong: 'p1', at: 5, hwm: 1 }), { v: 1, pong: 'p1', at: 5 });
  assert.equal(AckSchema.safeParse({ v: 1, pong: 'p1', at: 5 }).success, false);
});

test('the reported state carries the ledger and the extended lane counters', () => {
  const ledger = {
    telemetry: { quota: { count: 2, bytes: 90 }, ttl: { count: 0, bytes: 0 }, unconfirmed: 1 },
  };
  assert.equal(LedgerReportSchema.safeParse(ledger).success, true);
  // A lane this build does not know is left out (and counted by the tolerant reader), not fatal.
  assert.deepEqual(LedgerReportSchema.parse({ video: ledger.telemetry, ...ledger }), ledger);
  const state = {
    v: 1,
    at: 1,
    agentVersion: '0.1.0',
    epoch,
    startedAt: 1,
    appliedRev: 0,
    config: {},
    outbox: {
      telemetry: { pending: 1, enqueued: 4, acked: 0, dropped: 2, unconfirmed: 1, pendingBytes: 40 },
    },
    ledger,
  };
  assert.equal(ReportedStateSchema.safeParse(state).success, true);
  assert.equal(
    ReportedStateSchema.safeParse({ ...state, ledger: { telemetry: { quota: 1 } } }).success,
    false,
  );
});
