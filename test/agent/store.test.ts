import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { openDatabase } from '../../agent/store/database.js';
import { AGENT_DB_FILE, openAgentStore } from '../../agent/store/index.js';
import { envelopeBytes } from '../../agent/store/outbox-store.js';
import { LANES, OutpostError } from '../../shared/index.js';
import { tempDir } from '../helpers/agent.js';
import { ackUpTo, countRows, firstPendingLane, storedSeqs } from '../helpers/outbox-store.js';

const dirs: Array<{ remove(): void }> = [];
after(() => {
  for (const d of dirs) d.remove();
});
function freshDir(): string {
  const d = tempDir();
  dirs.push(d);
  return d.path;
}
const BIG = 1024 * 1024;
const NO_DROPS = { dropped: 0, unconfirmed: 0 };
const json = (v: unknown) => JSON.stringify(v);

describe('agent store', () => {
  it('makes a base64url epoch once and keeps it across reopen', () => {
    const dir = freshDir();
    const first = openAgentStore({ dataDir: `${dir}/nested/deeper`, durability: 'crash-safe' });
    const epoch = first.epoch;
    first.close();
    assert.match(epoch, /^[A-Za-z0-9_-]{16,64}$/);
    const again = openAgentStore({ dataDir: `${dir}/nested/deeper`, durability: 'crash-safe' });
    assert.equal(again.epoch, epoch);
    again.close();
    const other = openAgentStore({ dataDir: freshDir(), durability: 'crash-safe' });
    assert.notEqual(other.epoch, epoch);
    other.close();
  });

  it('uses WAL with synchronous NORMAL (crash-safe) or FULL (power-safe)', () => {
    const crash = openDatabase(freshDir(), 'crash-safe');
    assert.equal(crash.pragma('journal_mode', { simple: true }), 'wal');
    assert.equal(crash.pragma('synchronous', { simple: true }), 1);
    crash.close();
    const power = openDatabase(freshDir(), 'power-safe');
    assert.equal(power.pragma('journal_mode', { simple: true }), 'wal');
    assert.equal(power.pragma('synchronous', { simple: true }), 2);
    power.close();
  });

  it('refuses a store made by a newer build', () => {
    const dir = freshDir();
    openAgentStore({ dataDir: dir, durability: 'crash-safe' }).close();
    const raw = new Database(`${dir}/${AGENT_DB_FILE}`);
    raw.pragma('user_version = 99');
    raw.close();
    assert.throws(() => openAgentStore({ dataDir: dir, durability: 'crash-safe' }), /newer than this build/);
  });

  it('numbers each lane from 1, monotonically, never reusing a seq after acks or restarts', () => {
    const dir = freshDir();
    let store = openAgentStore({ dataDir: dir, durability: 'crash-safe' });
    const seqs = [1, 2, 3].map((i) => store.outbox.enqueue('telemetry', 't.x', json({ i }), 1000, BIG));
    assert.deepEqual(seqs, [1, 2, 3]);
    assert.equal(store.outbox.enqueue('control', 'c.x', 'null', 1000, BIG), 1, 'lanes count separately');
    assert.equal(ackUpTo(store.outbox, store.epoch, 'telemetry', 3), 3);
    assert.equal(store.outbox.enqueue('telemetry', 't.x', '{}', 1000, BIG), 4, 'no reuse after delete');
    store.close();
    store = openAgentStore({ dataDir: dir, durability: 'crash-safe' });
    assert.equal(ackUpTo(store.outbox, store.epoch, 'telemetry', 4), 1);
    assert.equal(countRows(store.db, 'telemetry'), 0);
    assert.equal(store.outbox.enqueue('telemetry', 't.x', '{}', 1000, BIG), 5, 'no reuse after restart');
    assert.deepEqual(store.outbox.counters().telemetry, {
      ...NO_DROPS,
      pending: 1,
      enqueued: 5,
      acked: 4,
      pendingBytes: envelopeBytes(5, 't.x', 1000, '{}'),
    });
    assert.deepEqual(store.outbox.counters().control, {
      ...NO_DROPS,
      pending: 1,
      enqueued: 1,
      acked: 0,
      pendingBytes: envelopeBytes(1, 'c.x', 1000, 'null'),
    });
    store.close();
  });

  it('acks cumulatively up to the hwm, ignores other epochs, and counts acked events', () => {
    const store = openAgentStore({ dataDir: freshDir(), durability: 'crash-safe' });
    for (let i = 0; i < 10; i++) store.outbox.enqueue('results', 'r.x', json(i), 1000, BIG);
    assert.equal(ackUpTo(store.outbox, 'AAAAAAAAAAAAAAAAAAAAAA', 'results', 10), 0, 'foreign epoch');
    assert.equal(countRows(store.db, 'results'), 10);
    assert.equal(ackUpTo(store.outbox, store.epoch, 'telemetry', 10), 0, 'other lane untouched');
    assert.equal(ackUpTo(store.outbox, store.epoch, 'results', 4), 4);
    assert.equal(ackUpTo(store.outbox, store.epoch, 'results', 4), 0, 'repeated ack is a no-op');
    assert.equal(ackUpTo(store.outbox, store.epoch, 'results', 2), 0, 'older ack is a no-op');
    assert.equal(storedSeqs(store.db, 'results')[0], 5);
    assert.deepEqual(
      { ...store.outbox.counters().results, pendingBytes: 0 },
      { ...NO_DROPS, pending: 6, enqueued: 10, acked: 4, pendingBytes: 0 },
    );
    assert.equal(countRows(store.db, 'results'), 6);
    store.close();
  });

  it('takes the oldest events of a lane, bounded by count and bytes, at least one', () => {
    const store = openAgentStore({ dataDir: freshDir(), durability: 'crash-safe' });
    assert.equal(store.outbox.takeBatch('telemetry', 0, 10, BIG), undefined);
    const body = json({ pad: 'x'.repeat(100) });
    for (let i = 0; i < 20; i++) store.outbox.enqueue('telemetry', 'e.t', body, 1234, BIG);
    const size = envelopeBytes(1, 'e.t', 1234, body);

    const byCount = store.outbox.takeBatch('telemetry', 0, 7, BIG);
    assert.deepEqual(
      byCount?.events.map((e) => e.seq),
      [1, 2, 3, 4, 5, 6, 7],
    );
    assert.deepEqual(byCount?.events[0], { seq: 1, type: 'e.t', at: 1234, body: { pad: 'x'.repeat(100) } });

    const byBytes = store.outbox.takeBatch('telemetry', 0, 100, size * 3 + 5);
    assert.equal(byBytes?.events.length, 3);
    assert.ok((byBytes?.bytes ?? 0) <= size * 3 + 5);

    const tiny = store.outbox.takeBatch('telemetry', 0, 100, 10);
    assert.equal(tiny?.events.length, 1, 'always at least one event');
    store.close();
  });

  it('measures an event as its JSON envelope', () => {
    const envelope = { seq: 12, type: 'a.b', at: 99, body: { é: 'ü', n: [1, 2] } };
    const bodyJson = JSON.stringify(envelope.body);
    assert.equal(envelopeBytes(12, 'a.b', 99, bodyJson), Buffer.byteLength(JSON.stringify(envelope)));
  });

  it('refuses an event larger than a batch without burning a seq', () => {
    const store = openAgentStore({ dataDir: freshDir(), durability: 'crash-safe' });
    assert.throws(
      () => store.outbox.enqueue('telemetry', 'big', json('x'.repeat(2000)), 1, 1024),
      (err: unknown) => err instanceof OutpostError && err.code === 'PROTO_PAYLOAD_TOO_LARGE',
    );
    assert.equal(store.outbox.enqueue('telemetry', 'small', '1', 1, 1024), 1);
    store.close();
  });

  it('finds the first non-empty lane in priority order', () => {
    const store = openAgentStore({ dataDir: freshDir(), durability: 'crash-safe' });
    assert.equal(firstPendingLane(store.outbox), undefined);
    store.outbox.enqueue('learning', 'l', '1', 1, BIG);
    assert.equal(firstPendingLane(store.outbox), 'learning');
    store.outbox.enqueue('telemetry', 't', '1', 1, BIG);
    store.outbox.enqueue('control', 'c', '1', 1, BIG);
    assert.equal(firstPendingLane(store.outbox), 'control');
    ackUpTo(store.outbox, store.epoch, 'control', 1);
    assert.equal(firstPendingLane(store.outbox), 'telemetry');
    assert.deepEqual(Object.keys(store.outbox.counters()), [...LANES]);
    store.close();
  });

  it('persists the applied desired state and the latest outcome', () => {
    const dir = freshDir();
    let store = openAgentStore({ dataDir: dir, durability: 'power-safe' });
    assert.deepEqual(store.desired.load(), { appliedRev: 0, doc: undefined, outcome: undefined });
    const doc = { v: 1 as const, rev: 3, at: 10, config: { logLevel: 'debug' as const, labels: { a: 'b' } } };
    store.desired.saveApplied(doc, { rev: 3, status: 'applied', at: 11 });
    store.desired.saveOutcome({ rev: 2, status: 'stale', reason: 'older', at: 12 });
    store.close();
    store = openAgentStore({ dataDir: dir, durability: 'power-safe' });
    assert.deepEqual(store.desired.load(), {
      appliedRev: 3,
      doc,
      outcome: { rev: 2, status: 'stale', reason: 'older', at: 12 },
    });
    store.close();
  });
});
