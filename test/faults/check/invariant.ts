import { LANES, type Lane } from '../../../shared/index.js';
import type { FaultEventBody } from '../children/protocol.js';
import type { Receipt } from '../procs/agent-proc.js';
import type { AgentSnapshot } from './agent-db.js';
import type { HubEvent } from './hub-view.js';

/** Per-lane account of intentional drops, from the agent's loss ledger. */
export interface LaneDrops {
  /** Events the ledger counts as dropped (every reason). */
  dropped: number;
  /** Dropped events whose fate the hub has not confirmed yet (must be 0 after a drain). */
  unconfirmed: number;
}

/** Everything the invariant looks at, for one agent store (one epoch of one device). */
export interface InvariantInput {
  snapshot: AgentSnapshot;
  /** The hub's events of this device and epoch. */
  hubEvents: HubEvent[];
  /** What the application was told, for every event it offered to this store. */
  receipts: readonly Receipt[];
  /** The loss ledger per lane; absent lanes dropped nothing. */
  drops?: Partial<Record<Lane, LaneDrops>>;
}

/** The figures of one check (summed over lanes). */
export interface Tally {
  /** Events the agent durably stored (seqs ever assigned). */
  sent: number;
  /** Distinct events the hub holds. */
  ingested: number;
  /** Events the loss ledger accounts for. */
  dropped: number;
  /** Events the hub holds more than once (by uid, or by seq). */
  duplicates: number;
  /** Stored events neither at the hub nor in the ledger. */
  lost: number;
}

/** At most this many problems are listed per check (the rest are counted). */
const MAX_LISTED = 12;

/**
 * The invariant checked after every trial (issue 4 item 5): the hub holds every event the
 * agent durably stored exactly once, in per-lane order, and the loss ledger accounts for
 * every intentional drop and nothing else. Precisely, per lane of the store:
 * - every hub event has a seq the agent assigned, its own `uid` (no uid twice, no seq
 *   twice) and the enqueue order (`o` grows with `seq`);
 * - the seqs missing at the hub number exactly what the ledger says was dropped, and none
 *   is unconfirmed; nothing is pending in the outbox once drained;
 * - every event the application was told is stored is at the hub under that seq with that
 *   uid, unless its seq is missing and accounted for by the ledger; no refused event is at
 *   the hub.
 * Call it once the agent has drained (nothing pending).
 */
export function checkInvariant(input: InvariantInput): { tally: Tally; problems: string[] } {
  const problems: string[] = [];
  let hidden = 0;
  const problem = (text: string) => {
    if (problems.length < MAX_LISTED) problems.push(text);
    else hidden += 1;
  };
  const tally: Tally = { sent: 0, ingested: 0, dropped: 0, duplicates: 0, lost: 0 };
  const { snapshot } = input;
  const byUid = new Map<string, HubEvent>();
  const bySeq = new Map<Lane, Map<number, HubEvent>>(LANES.map((l) => [l, new Map()]));

  for (const event of input.hubEvents) {
    const body = event.body as Partial<FaultEventBody> | null;
    const where = `${event.lane}#${event.seq}`;
    if (event.epoch !== snapshot.epoch) problem(`${where}: epoch ${event.epoch} is not the store's`);
    const lane = bySeq.get(event.lane);
    if (!lane) {
      problem(`${where}: unknown lane`);
      continue;
    }
    if (typeof body?.uid !== 'string' || typeof body.o !== 'number') {
      problem(`${where}: body without uid/o: ${JSON.stringify(body)}`);
      continue;
    }
    if (lane.has(event.seq) || byUid.has(body.uid)) {
      tally.duplicates += 1;
      problem(`${where}: duplicate (uid ${body.uid}, seq ${event.seq})`);
      continue;
    }
    lane.set(event.seq, event);
    byUid.set(body.uid, event);
  }

  for (const laneName of LANES) {
    const lane = bySeq.get(laneName) ?? new Map<number, HubEvent>();
    const counters = snapshot.lanes[laneName];
    const drops = input.drops?.[laneName] ?? { dropped: 0, unconfirmed: 0 };
    tally.sent += counters.assigned;
    tally.ingested += lane.size;
    tally.dropped += drops.dropped;
    let previousOrder = -1;
    for (const seq of [...lane.keys()].sort((a, b) => a - b)) {
      const event = lane.get(seq) as HubEvent;
      const o = (event.body as FaultEventBody).o;
      if (seq > counters.assigned) problem(`${laneName}#${seq}: the agent never assigned this seq`);
      if (o <= previousOrder)
        problem(`${laneName}#${seq}: out of enqueue order (o ${o} after ${previousOrder})`);
      previousOrder = o;
    }
    const missing = counters.assigned - lane.size;
    if (missing !== drops.dropped) {
      problem(
        `${laneName}: ${missing} stored events missing at the hub, ledger accounts for ${drops.dropped}`,
      );
    }
    tally.lost += Math.max(0, missing - drops.dropped);
    if (drops.unconfirmed !== 0) problem(`${laneName}: ${drops.unconfirmed} drops still unconfirmed`);
    if (counters.pendingRows !== 0)
      problem(`${laneName}: ${counters.pendingRows} events still in the outbox`);
  }

  for (const receipt of input.receipts) {
    const event = byUid.get(receipt.uid);
    if (receipt.refused !== undefined) {
      if (event) problem(`${receipt.uid}: refused (${receipt.refused}) yet at the hub`);
      continue;
    }
    const atSeq = receipt.seq === undefined ? undefined : bySeq.get(receipt.lane)?.get(receipt.seq);
    if (event && event === atSeq) continue;
    if (atSeq)
      problem(`${receipt.lane}#${receipt.seq}: holds ${JSON.stringify(atSeq.body)}, not ${receipt.uid}`);
    else if (event)
      problem(`${receipt.uid}: at ${event.lane}#${event.seq}, told ${receipt.lane}#${receipt.seq}`);
    else if ((input.drops?.[receipt.lane]?.dropped ?? 0) === 0) {
      problem(`${receipt.uid} (${receipt.lane}#${receipt.seq}): stored, not at the hub, nothing dropped`);
    }
  }
  if (hidden > 0) problems.push(`… and ${hidden} more`);
  return { tally, problems };
}
