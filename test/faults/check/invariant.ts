import { LANES, type Lane } from '../../../shared/index.js';
import { type FaultEventBody, WORKLOAD_EVENT_TYPE } from '../children/protocol.js';
import type { Receipt } from '../procs/agent-proc.js';
import type { AgentSnapshot, LaneSnapshot } from './agent-db.js';
import type { HubEvent } from './hub-view.js';

/** Everything the invariant looks at, for one agent store (one epoch of one device). */
export interface InvariantInput {
  snapshot: AgentSnapshot;
  /** The hub's events of this device and epoch. */
  hubEvents: HubEvent[];
  /** What the application was told, for every event it offered to this store. */
  receipts: readonly Receipt[];
}

/** The figures of one check (summed over lanes). */
export interface Tally {
  /** Events the agent durably stored (seqs ever assigned). */
  sent: number;
  /** Distinct events the hub holds. */
  ingested: number;
  /** Events the loss ledger books as lost (quota or TTL drops). */
  dropped: number;
  /** Events the hub holds more than once (by uid, or by seq). */
  duplicates: number;
  /** Stored events neither at the hub nor in the ledger. */
  lost: number;
}

/** At most this many problems are listed per check (the rest are counted). */
const MAX_LISTED = 12;

class Problems {
  readonly list: string[] = [];
  #hidden = 0;

  add(text: string): void {
    if (this.list.length < MAX_LISTED) this.list.push(text);
    else this.#hidden += 1;
  }

  done(): string[] {
    return this.#hidden > 0 ? [...this.list, `… and ${this.#hidden} more`] : this.list;
  }
}

/**
 * The invariant checked after every trial: the hub holds every event the
 * agent durably stored exactly once, in per-lane order, and the loss ledger accounts for
 * every intentional drop and nothing else. Precisely, per lane of the store, with N the
 * seqs the agent assigned, H the seqs the hub holds and L the seqs of the ledger's ranges:
 * - H and L are disjoint and together exactly 1..N (nothing lost, nothing invented, nothing
 *   both delivered and booked lost); |L| is the lane's `dropped` counter;
 * - the hub holds each event once (no seq twice, no uid twice), each in enqueue order (`o`
 *   grows with `seq`);
 * - every event the application was told is stored is at the hub under that seq with that
 *   uid, or its seq is in L; no refused event is at the hub;
 * - drained: no outbox row, no unconfirmed drop, every drop answered by the hub (the dropped
 *   boundary confirmed) and no ledger range beyond it; `assigned = acked + dropped +
 *   unconfirmed + pending` holds.
 * Call it once the agent has drained.
 */
export function checkInvariant(input: InvariantInput): { tally: Tally; problems: string[] } {
  const problems = new Problems();
  const tally: Tally = { sent: 0, ingested: 0, dropped: 0, duplicates: 0, lost: 0 };
  const { snapshot } = input;
  const byUid = new Map<string, HubEvent>();
  const bySeq = new Map<Lane, Map<number, HubEvent>>(LANES.map((l) => [l, new Map()]));

  for (const event of input.hubEvents) {
    const body = event.body as Partial<FaultEventBody> | null;
    const where = `${event.lane}#${event.seq}`;
    if (event.epoch !== snapshot.epoch) problems.add(`${where}: epoch ${event.epoch} is not the store's`);
    const lane = bySeq.get(event.lane);
    if (!lane) {
      problems.add(`${where}: unknown lane`);
      continue;
    }
    if (event.type !== WORKLOAD_EVENT_TYPE) {
      // The agent's own report (its periodic `telemetry.device`, once a store lives longer
      // than the telemetry interval): delivered exactly once like any event, in a seq of the
      // lane, but outside the workload's uids and enqueue order.
      if (lane.has(event.seq)) {
        tally.duplicates += 1;
        problems.add(`${where}: duplicate (${event.type}, seq ${event.seq})`);
      } else lane.set(event.seq, event);
      continue;
    }
    if (typeof body?.uid !== 'string' || typeof body.o !== 'number') {
      problems.add(`${where}: body without uid/o: ${JSON.stringify(body)}`);
      continue;
    }
    if (lane.has(event.seq) || byUid.has(body.uid)) {
      tally.duplicates += 1;
      problems.add(`${where}: duplicate (uid ${body.uid}, seq ${event.seq})`);
      continue;
    }
    lane.set(event.seq, event);
    byUid.set(body.uid, event);
  }

  const lostSeqs = new Map<Lane, Set<number>>();
  for (const laneName of LANES) {
    const held = bySeq.get(laneName) ?? new Map<number, HubEvent>();
    const counters = snapshot.lanes[laneName];
    const booked = ledgerSeqs(laneName, counters, problems);
    lostSeqs.set(laneName, booked);
    tally.sent += counters.assigned;
    tally.ingested += held.size;
    tally.dropped += booked.size;
    checkLane(laneName, counters, held, booked, problems, tally);
  }

  for (const receipt of input.receipts) {
    const event = byUid.get(receipt.uid);
    if (receipt.refused !== undefined) {
      if (event) problems.add(`${receipt.uid}: refused (${receipt.refused}) yet at the hub`);
      continue;
    }
    const seq = receipt.seq ?? 0;
    const atSeq = bySeq.get(receipt.lane)?.get(seq);
    if (event && event === atSeq) continue;
    if (atSeq)
      problems.add(`${receipt.lane}#${seq}: holds ${JSON.stringify(atSeq.body)}, not ${receipt.uid}`);
    else if (event)
      problems.add(`${receipt.uid}: at ${event.lane}#${event.seq}, told ${receipt.lane}#${seq}`);
    else if (!lostSeqs.get(receipt.lane)?.has(seq) && !stillQueued(snapshot.lanes[receipt.lane], seq)) {
      problems.add(`${receipt.uid} (${receipt.lane}#${seq}): stored, not at the hub, not in the ledger`);
    }
  }
  return { tally, problems: problems.done() };
}

/** True when `seq` is still in the outbox or an unconfirmed drop (reported as not drained). */
function stillQueued(lane: LaneSnapshot, seq: number): boolean {
  return lane.pendingSeqs.includes(seq) || lane.unconfirmedSeqs.includes(seq);
}

/** The seqs of a lane's ledger ranges; overlapping ranges are a problem. */
function ledgerSeqs(lane: Lane, counters: LaneSnapshot, problems: Problems): Set<number> {
  const seqs = new Set<number>();
  for (const range of counters.ledger) {
    if (range.from < 1 || range.to > counters.assigned || range.from > range.to) {
      problems.add(`${lane}: ledger range ${range.from}..${range.to} outside 1..${counters.assigned}`);
    }
    if (range.to > counters.droppedThrough) {
      problems.add(
        `${lane}: ledger range ${range.from}..${range.to} beyond the dropped boundary ${counters.droppedThrough}`,
      );
    }
    for (let s = range.from; s <= range.to; s++) {
      if (seqs.has(s)) problems.add(`${lane}#${s}: booked lost twice in the ledger`);
      seqs.add(s);
    }
  }
  if (seqs.size !== counters.dropped) {
    problems.add(
      `${lane}: ledger ranges hold ${seqs.size} seqs, the dropped counter says ${counters.dropped}`,
    );
  }
  return seqs;
}

function checkLane(
  lane: Lane,
  c: LaneSnapshot,
  held: Map<number, HubEvent>,
  booked: Set<number>,
  problems: Problems,
  tally: Tally,
): void {
  let previousOrder = -1;
  for (const seq of [...held.keys()].sort((a, b) => a - b)) {
    const event = held.get(seq);
    if (seq < 1 || seq > c.assigned) problems.add(`${lane}#${seq}: the agent never assigned this seq`);
    if (booked.has(seq)) problems.add(`${lane}#${seq}: at the hub and booked lost in the ledger`);
    if (event?.type !== WORKLOAD_EVENT_TYPE) continue;
    const o = (event.body as FaultEventBody).o;
    if (o <= previousOrder)
      problems.add(`${lane}#${seq}: out of enqueue order (o ${o} after ${previousOrder})`);
    previousOrder = o;
  }
  const pending = new Set(c.pendingSeqs);
  const unconfirmed = new Set(c.unconfirmedSeqs);
  const lost: number[] = [];
  for (let seq = 1; seq <= c.assigned; seq++) {
    if (held.has(seq) || booked.has(seq) || pending.has(seq) || unconfirmed.has(seq)) continue;
    lost.push(seq);
  }
  tally.lost += lost.length;
  for (const range of ranges(lost)) {
    problems.add(
      `${lane}#${range}: stored by the agent, neither at the hub, nor in the outbox, nor in the ledger`,
    );
  }
  if (c.pendingRows !== 0) {
    problems.add(
      `${lane}: not drained, ${c.pendingRows} events still in the outbox (#${ranges(c.pendingSeqs).join(', #')})`,
    );
  }
  if (c.dropConfirmedThrough < c.droppedThrough) {
    problems.add(
      `${lane}: drops through #${c.droppedThrough} answered by the hub only through #${c.dropConfirmedThrough}`,
    );
  }
  if (c.unconfirmed !== 0 || c.unconfirmedRows !== 0) {
    problems.add(`${lane}: ${c.unconfirmed} drops still unconfirmed (${c.unconfirmedRows} rows)`);
  }
  if (c.assigned !== c.acked + c.dropped + c.unconfirmed + c.pendingRows) {
    problems.add(
      `${lane}: counters disagree: assigned ${c.assigned} ≠ acked ${c.acked} + dropped ${c.dropped} + ` +
        `unconfirmed ${c.unconfirmed} + pending ${c.pendingRows}`,
    );
  }
}

/** Ascending seqs as `a..b` runs (`a` alone for a run of one). */
function ranges(seqs: readonly number[]): string[] {
  const out: string[] = [];
  let first: number | undefined;
  let last = 0;
  const flush = () => {
    if (first !== undefined) out.push(first === last ? `${first}` : `${first}..${last}`);
  };
  for (const seq of seqs) {
    if (first !== undefined && seq === last + 1) {
      last = seq;
      continue;
    }
    flush();
    first = seq;
    last = seq;
  }
  flush();
  return out;
}
