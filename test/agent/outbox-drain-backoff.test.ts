import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { pino } from 'pino';
import { OutboxDrain } from '../../agent/outbox/drain.js';
import { DEFAULT_LANE_WEIGHTS } from '../../agent/outbox/outbox-config.js';
import { type AgentStore, openAgentStore } from '../../agent/store/index.js';
import type { Ack, Lane } from '../../shared/index.js';
import { Cleanups, tempDir, waitFor } from '../helpers/fixtures.js';

// The drain against a real store and a publish that never gets acked unless the test acks:
// consecutive ack timeouts of a lane double its wait up to 8 × the base, an ack resets it.
// The jitter's random source is fixed at its midpoint, so every wait is exact and read from
// the drain's own log line; timers never fire early, so the gaps between resends are checked
// from below only (a loaded machine makes them longer, never shorter).

const BASE_MS = 50;

interface Sent {
  at: number;
  lane: Lane;
  batchId: string;
  seqs: number[];
}

function harness(cleanups: Cleanups) {
  const dir = tempDir();
  const store: AgentStore = openAgentStore({ dataDir: dir.path, durability: 'crash-safe' });
  const sent: Sent[] = [];
  const timeouts: Array<{ lane: Lane; waitMs: number; inRow: number }> = [];
  const log = pino(
    { level: 'warn' },
    {
      write(line: string) {
        const { lane, why } = JSON.parse(line) as { lane: Lane; why?: string };
        const m = /^no ack within (\d+) ms \((\d+) in a row\)$/.exec(why ?? '');
        if (m) timeouts.push({ lane, waitMs: Number(m[1]), inRow: Number(m[2]) });
      },
    },
  );
  let connected = true;
  const drain = new OutboxDrain({
    outbox: store.outbox,
    epoch: store.epoch,
    batchMaxEvents: 10,
    batchMaxBytes: 64 * 1024,
    ackTimeoutMs: BASE_MS,
    window: 4,
    weights: DEFAULT_LANE_WEIGHTS,
    isConnected: () => connected,
    publish(payload) {
      if (!connected) return false;
      const b = JSON.parse(payload.toString()) as {
        lane: Lane;
        batchId: string;
        events: Array<{ seq: number }>;
      };
      sent.push({
        at: performance.now(),
        lane: b.lane,
        batchId: b.batchId,
        seqs: b.events.map((e) => e.seq),
      });
      return true;
    },
    log,
    random: () => 0.5,
  });
  cleanups.add(
    () => dir.remove(),
    () => store.close(),
    () => drain.stop(),
  );
  drain.start();
  return {
    store,
    drain,
    sent,
    timeouts,
    enqueue(lane: Lane, n: number) {
      for (let i = 0; i < n; i++) store.outbox.enqueue(lane, 'e', JSON.stringify(i), Date.now(), 64 * 1024);
      drain.wake();
    },
    /** What the agent does with a hub's ack: apply it to the store, then tell the drain. */
    ack(batch: Sent) {
      const ack: Ack = {
        v: 1,
        epoch: store.epoch,
        lane: batch.lane,
        hwm: batch.seqs.at(-1) ?? 0,
        batchId: batch.batchId,
        stored: batch.seqs.length,
        duplicates: 0,
      };
      store.outbox.applyAck(ack);
      drain.onAck(ack);
    },
    setConnected(up: boolean) {
      connected = up;
      if (up) drain.wake();
      else drain.onDisconnect();
    },
  };
}

const waits = (t: ReturnType<typeof harness>, lane: Lane) =>
  t.timeouts.filter((x) => x.lane === lane).map((x) => x.waitMs);

describe('outbox drain ack timeout backoff', () => {
  const cleanups = new Cleanups();
  afterEach(() => cleanups.run());

  it('doubles the wait per consecutive timeout, up to 8 × the base, resending from the oldest', async () => {
    const t = harness(cleanups);
    t.enqueue('telemetry', 3);
    await waitFor(() => t.timeouts.length >= 5, 'five ack timeouts in a row');
    assert.deepEqual(waits(t, 'telemetry').slice(0, 5), [50, 100, 200, 400, 400]);
    assert.deepEqual(
      t.timeouts.slice(0, 5).map((x) => x.inRow),
      [1, 2, 3, 4, 5],
    );
    const sends = t.sent.slice(0, 6);
    assert.ok(
      sends.every((s) => s.seqs.join() === '1,2,3'),
      'every resend starts from the oldest unacknowledged event',
    );
    // Each resend follows its rewind at once; the gap before it is at least the wait (a timer
    // may round down by 1 ms).
    const gaps = sends.slice(1).map((s, i) => s.at - (sends[i] as Sent).at);
    gaps.forEach((gap, i) => {
      const wait = [50, 100, 200, 400, 400][i] as number;
      assert.ok(
        gap >= wait - 1,
        `resend ${i + 1} came ${gap.toFixed(1)} ms after the send before it, not before ${wait}`,
      );
    });
    assert.equal(t.drain.rewinds, t.timeouts.length);
  });

  it('an ack that settles a batch of the lane resets its wait to the base', async () => {
    const t = harness(cleanups);
    t.enqueue('telemetry', 2);
    await waitFor(() => t.timeouts.length >= 2 && t.sent.length >= 3, 'two timeouts and the resend');
    t.ack(t.sent.at(-1) as Sent);
    assert.equal(t.drain.inFlight, 0);
    assert.equal(t.store.outbox.laneStates().telemetry.pending, 0);
    const before = t.timeouts.length;
    t.enqueue('telemetry', 1);
    await waitFor(() => t.timeouts.length > before, 'a timeout of the next batch');
    assert.deepEqual(
      t.timeouts
        .slice(before)
        .map((x) => [x.waitMs, x.inRow])
        .at(0),
      [50, 1],
    );
    assert.deepEqual(t.sent.at(-1)?.seqs, [3]);
  });

  it('backs off each lane on its own timeouts', async () => {
    const t = harness(cleanups);
    t.enqueue('telemetry', 1);
    await waitFor(() => waits(t, 'telemetry').length >= 2, 'two telemetry timeouts');
    t.enqueue('control', 1);
    await waitFor(() => waits(t, 'control').length >= 1, 'a control timeout');
    assert.equal(waits(t, 'control')[0], 50, 'control waits the base, whatever telemetry went through');
  });

  it('keeps the count across a reconnect: only an ack proves the hub keeps up again', async () => {
    const t = harness(cleanups);
    t.enqueue('telemetry', 1);
    await waitFor(() => t.timeouts.length >= 2, 'two timeouts');
    t.setConnected(false);
    const sentBefore = t.sent.length;
    t.setConnected(true);
    await waitFor(() => t.sent.length > sentBefore && t.timeouts.length >= 3, 'resent and timed out again');
    assert.deepEqual(waits(t, 'telemetry').slice(0, 3), [50, 100, 200]);
  });
});
