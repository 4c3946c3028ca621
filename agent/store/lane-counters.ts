import type Database from 'better-sqlite3';
import { LANES, type Lane, OutpostError } from '../../shared/index.js';
import type { DropEvent } from './outbox-drops.js';

/**
 * One row of `lane_counters` (extended by). Seqs: `next_seq` the next to
 * assign; `dropped_through` the highest dropped; `drop_confirmed_through` the highest the hub
 * answered about; `sent_through` the highest ever published. Counts: `acked` (the hub has
 * them), `dropped` (the ledger's losses), `unconfirmed` (dropped, fate unknown yet).
 */
export interface CounterRow {
  next_seq: number;
  acked: number;
  dropped: number;
  unconfirmed: number;
  pending_bytes: number;
  dropped_through: number;
  drop_confirmed_through: number;
  sent_through: number;
}

/** Events still in the outbox: `enqueued − acked − dropped − unconfirmed`. */
export const pendingOf = (c: CounterRow): number => c.next_seq - 1 - c.acked - c.dropped - c.unconfirmed;

const COLS =
  'next_seq, acked, dropped, unconfirmed, pending_bytes, dropped_through, drop_confirmed_through, sent_through';

/** Reads and writes `lane_counters`; callers mutate a row and save it in their transaction. */
export class LaneCounterTable {
  readonly #one: Database.Statement<[Lane], CounterRow>;
  readonly #all: Database.Statement<[], CounterRow & { lane: string }>;
  readonly #save: Database.Statement<[number, number, number, number, number, number, number, number, Lane]>;

  constructor(db: Database.Database) {
    this.#one = db.prepare(`SELECT ${COLS} FROM lane_counters WHERE lane = ?`);
    this.#all = db.prepare(`SELECT lane, ${COLS} FROM lane_counters`);
    this.#save = db.prepare(
      `UPDATE lane_counters SET next_seq = ?, acked = ?, dropped = ?, unconfirmed = ?, pending_bytes = ?,
       dropped_through = ?, drop_confirmed_through = ?, sent_through = ? WHERE lane = ?`,
    );
  }

  /** The row of `lane`. */
  get(lane: Lane): CounterRow {
    const row = this.#one.get(lane);
    if (!row) throw new OutpostError('AGENT_INTERNAL', `no counters for lane ${lane}`);
    return row;
  }

  /** Every lane's row, keyed by lane. */
  all(): Map<Lane, CounterRow> {
    const out = new Map<Lane, CounterRow>();
    for (const row of this.#all.all()) {
      if ((LANES as readonly string[]).includes(row.lane)) out.set(row.lane as Lane, row);
    }
    return out;
  }

  /** Writes `c` back. */
  save(lane: Lane, c: CounterRow): void {
    this.#save.run(
      c.next_seq,
      c.acked,
      c.dropped,
      c.unconfirmed,
      c.pending_bytes,
      c.dropped_through,
      c.drop_confirmed_through,
      c.sent_through,
      lane,
    );
  }
}

/** Books a drop in a counter row (not saved). */
export function applyDrop(c: CounterRow, drop: DropEvent | undefined): void {
  if (!drop) return;
  c.dropped += drop.lost;
  c.unconfirmed += drop.unconfirmed;
  c.pending_bytes -= drop.bytes;
  c.dropped_through = Math.max(c.dropped_through, drop.through);
}
