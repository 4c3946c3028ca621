import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LANES, type Lane } from '../../shared/index.js';
import type { AgentSnapshot, LaneSnapshot } from './check/agent-db.js';
import type { HubEvent } from './check/hub-view.js';
import { checkInvariant } from './check/invariant.js';
import type { Receipt } from './procs/agent-proc.js';

// The fault suite's invariant checker on hand-made stores and hub contents: it must pass a
// sound delivery and name every kind of violation (a checker that cannot fail proves nothing).

const EPOCH = 'epoch-aaaaaaaaaaaa';

function lane(partial: Partial<LaneSnapshot> = {}): LaneSnapshot {
  return {
    assigned: 0,
    acked: 0,
    dropped: 0,
    unconfirmed: 0,
    droppedThrough: 0,
    dropConfirmedThrough: 0,
    pendingRows: 0,
    unconfirmedRows: 0,
    pendingSeqs: [],
    unconfirmedSeqs: [],
    ledger: [],
    ...partial,
  };
}

function snapshot(lanes: Partial<Record<Lane, LaneSnapshot>>): AgentSnapshot {
  return {
    epoch: EPOCH,
    lanes: Object.fromEntries(LANES.map((l) => [l, lanes[l] ?? lane()])) as Record<Lane, LaneSnapshot>,
  };
}

const event = (l: Lane, seq: number, uid: string, o: number): HubEvent => ({
  epoch: EPOCH,
  lane: l,
  seq,
  type: 'fault.event',
  body: { uid, o },
});

/** Telemetry seqs 1..5 with uids t.0..t.4, the hub holding `held` of them. */
function telemetry(held: number[], ledger: LaneSnapshot['ledger'] = []) {
  const dropped = ledger.reduce((n, r) => n + r.to - r.from + 1, 0);
  const boundary = Math.max(0, ...ledger.map((r) => r.to));
  const snap = snapshot({
    telemetry: lane({
      assigned: 5,
      acked: 5 - dropped,
      dropped,
      ledger,
      droppedThrough: boundary,
      dropConfirmedThrough: boundary,
    }),
  });
  const hubEvents = held.map((seq) => event('telemetry', seq, `t.${seq - 1}`, seq - 1));
  const receipts: Receipt[] = [1, 2, 3, 4, 5].map((seq) => ({ uid: `t.${seq - 1}`, lane: 'telemetry', seq }));
  return { snapshot: snap, hubEvents, receipts };
}

describe('fault-suite invariant', () => {
  it('passes a sound delivery and counts it', () => {
    const { tally, problems } = checkInvariant(telemetry([1, 2, 3, 4, 5]));
    assert.deepEqual(problems, []);
    assert.deepEqual(tally, { sent: 5, ingested: 5, dropped: 0, duplicates: 0, lost: 0 });
  });

  it('passes drops that the ledger books exactly', () => {
    const input = telemetry([3, 4, 5], [{ reason: 'quota', from: 1, to: 2, bytes: 80 }]);
    const { tally, problems } = checkInvariant(input);
    assert.deepEqual(problems, []);
    assert.deepEqual(tally, { sent: 5, ingested: 3, dropped: 2, duplicates: 0, lost: 0 });
  });

  it('finds an event the agent stored that is neither at the hub nor in the ledger', () => {
    const { tally, problems } = checkInvariant(telemetry([1, 2, 4, 5]));
    assert.equal(tally.lost, 1);
    assert.ok(
      problems.some((p) =>
        p.includes(
          'telemetry#3: stored by the agent, neither at the hub, nor in the outbox, nor in the ledger',
        ),
      ),
    );
    assert.ok(
      problems.some((p) => p.includes('t.2 (telemetry#3): stored, not at the hub, not in the ledger')),
    );
  });

  it('finds a duplicate by uid under another seq, and a duplicate seq', () => {
    const input = telemetry([1, 2, 3, 4, 5]);
    input.hubEvents.push(event('telemetry', 6, 't.1', 6));
    input.snapshot.lanes.telemetry = lane({ assigned: 6, acked: 6 });
    const byUid = checkInvariant(input);
    assert.equal(byUid.tally.duplicates, 1);
    assert.ok(byUid.problems.some((p) => p.includes('duplicate (uid t.1, seq 6)')));

    const again = telemetry([1, 2, 3, 4, 5]);
    again.hubEvents.push(event('telemetry', 5, 't.9', 9));
    const bySeq = checkInvariant(again);
    assert.equal(bySeq.tally.duplicates, 1);
  });

  it("counts the agent's own report in a lane seq, delivered once, outside the workload's order", () => {
    // The workload took seqs 1-2 and 4-6; the agent's periodic status report took seq 3.
    const report = (seq: number): HubEvent => ({
      epoch: EPOCH,
      lane: 'telemetry',
      seq,
      type: 'telemetry.device',
      body: { uptimeS: 60.4 },
    });
    const input = telemetry([]);
    input.snapshot.lanes.telemetry = lane({ assigned: 6, acked: 6 });
    input.hubEvents = [1, 2, 4, 5, 6].map((seq, i) => event('telemetry', seq, `t.${i}`, i));
    input.hubEvents.push(report(3));
    input.receipts = [1, 2, 4, 5, 6].map((seq, i) => ({ uid: `t.${i}`, lane: 'telemetry', seq }));
    const sound = checkInvariant(input);
    assert.deepEqual(sound.problems, []);
    assert.deepEqual(sound.tally, { sent: 6, ingested: 6, dropped: 0, duplicates: 0, lost: 0 });

    input.hubEvents.push(report(3));
    assert.equal(checkInvariant(input).tally.duplicates, 1);
    input.hubEvents = input.hubEvents.filter((e) => e.type === 'fault.event');
    assert.ok(checkInvariant(input).problems.some((p) => p.includes('telemetry#3: stored by the agent')));
  });

  it('finds events out of enqueue order, and seqs the agent never assigned', () => {
    const input = telemetry([1, 2, 3, 4, 5]);
    input.hubEvents[3] = event('telemetry', 4, 't.3', 1);
    input.hubEvents.push(event('telemetry', 7, 't.7', 7));
    const { problems } = checkInvariant(input);
    assert.ok(problems.some((p) => p.includes('telemetry#4: out of enqueue order')));
    assert.ok(problems.some((p) => p.includes('telemetry#7: the agent never assigned this seq')));
  });

  it('finds a ledger that books a delivered event, or disagrees with the counter', () => {
    const input = telemetry([1, 2, 3, 4, 5], [{ reason: 'ttl', from: 2, to: 2, bytes: 40 }]);
    const { problems } = checkInvariant(input);
    assert.ok(problems.some((p) => p.includes('telemetry#2: at the hub and booked lost in the ledger')));

    const miscounted = telemetry([3, 4, 5], [{ reason: 'quota', from: 1, to: 2, bytes: 80 }]);
    miscounted.snapshot.lanes.telemetry.dropped = 1;
    assert.ok(
      checkInvariant(miscounted).problems.some((p) =>
        p.includes('ledger ranges hold 2 seqs, the dropped counter says 1'),
      ),
    );
  });

  it('finds drops the hub has not answered, and ledger ranges beyond the dropped boundary', () => {
    const input = telemetry([3, 4, 5], [{ reason: 'quota', from: 1, to: 2, bytes: 80 }]);
    input.snapshot.lanes.telemetry.dropConfirmedThrough = 1;
    assert.ok(
      checkInvariant(input).problems.some((p) =>
        p.includes('drops through #2 answered by the hub only through #1'),
      ),
    );
    input.snapshot.lanes.telemetry.droppedThrough = 1;
    input.snapshot.lanes.telemetry.dropConfirmedThrough = 1;
    assert.ok(
      checkInvariant(input).problems.some((p) =>
        p.includes('ledger range 1..2 beyond the dropped boundary 1'),
      ),
    );
  });

  it('finds a refused event at the hub, a receipt under the wrong seq, another epoch', () => {
    const input = telemetry([1, 2, 3, 4, 5]);
    input.receipts.push({ uid: 't.1', lane: 'telemetry', refused: 'AGENT_OUTBOX_FULL' });
    input.receipts[2] = { uid: 't.2', lane: 'telemetry', seq: 4 };
    input.hubEvents[0] = { ...(input.hubEvents[0] as HubEvent), epoch: 'another-epoch-bbbb' };
    const { problems } = checkInvariant(input);
    assert.ok(problems.some((p) => p.includes('t.1: refused (AGENT_OUTBOX_FULL) yet at the hub')));
    assert.ok(problems.some((p) => p.includes('telemetry#4: holds')));
    assert.ok(problems.some((p) => p.includes('epoch another-epoch-bbbb is not the store')));
  });

  it('reports an undrained outbox as such, not as loss, and counters that do not add up', () => {
    const input = telemetry([1, 2, 3]);
    const queued = { assigned: 5, acked: 3, pendingRows: 1, pendingSeqs: [4] };
    input.snapshot.lanes.telemetry = lane({
      ...queued,
      unconfirmed: 1,
      unconfirmedRows: 1,
      unconfirmedSeqs: [5],
    });
    const { tally, problems } = checkInvariant(input);
    assert.equal(tally.lost, 0);
    assert.deepEqual(problems, [
      'telemetry: not drained, 1 events still in the outbox (#4)',
      'telemetry: 1 drops still unconfirmed (1 rows)',
    ]);

    input.snapshot.lanes.telemetry = lane({ ...queued, acked: 2 });
    const miscounted = checkInvariant(input).problems;
    assert.ok(miscounted.some((p) => p.includes('counters disagree: assigned 5 ≠ acked 2')));
    assert.ok(miscounted.some((p) => p.includes('telemetry#5: stored by the agent, neither at the hub')));
  });
});
