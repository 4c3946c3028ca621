import type Database from 'better-sqlite3';
import type { Lane, LossReason } from '../../shared/index.js';
import { type DroppedRow, LossLedger } from './loss-ledger.js';

/** A drop as it happened: for the lane counters, the logs and the drain. */
export interface DropEvent {
  lane: Lane;
  reason: LossReason;
  /** Events deleted, and the highest seq among them (the lane's new `dropped_through`). */
  count: number;
  bytes: number;
  through: number;
  /** Of them, certainly lost (never published) … */
  lost: number;
  /** … and published before, left for the hub's answer. */
  unconfirmed: number;
}

/**
 * Deletes a lane's oldest pending events and books them in the {@link LossLedger}.
 * Drops always take a prefix of the lane's pending events — quota and TTL alike — which is
 * what lets the hub skip them by a single boundary. Runs inside the caller's transaction.
 */
export class OutboxDropper {
  readonly ledger: LossLedger;
  readonly #oldest: Database.Statement<[Lane], DroppedRow & { clock_ms: number }>;
  readonly #delete: Database.Statement<[Lane, number]>;

  constructor(db: Database.Database) {
    this.ledger = new LossLedger(db);
    this.#oldest = db.prepare('SELECT seq, bytes, clock_ms FROM outbox WHERE lane = ? ORDER BY seq');
    this.#delete = db.prepare('DELETE FROM outbox WHERE lane = ? AND seq <= ?');
  }

  /** Drops the fewest oldest events that free `rows` events and `bytes` bytes (quota). */
  dropForRoom(
    lane: Lane,
    rows: number,
    bytes: number,
    sentThrough: number,
    at: number,
  ): DropEvent | undefined {
    return this.#drop(lane, 'quota', sentThrough, at, (n, freed) => n >= rows && freed >= bytes);
  }

  /** Drops the oldest events stamped at or before `cutoffClockMs`, at most `maxRows` (TTL). */
  dropExpired(lane: Lane, cutoffClockMs: number, maxRows: number, sentThrough: number, at: number) {
    return this.#drop(
      lane,
      'ttl',
      sentThrough,
      at,
      (n, _freed, next) => n >= maxRows || next.clock_ms > cutoffClockMs,
    );
  }

  /**
   * Collects the oldest rows until `enough(countSoFar, bytesSoFar, nextRow)` says stop
   * (checked before taking each row), deletes them and books them.
   */
  #drop(
    lane: Lane,
    reason: LossReason,
    sentThrough: number,
    at: number,
    enough: (count: number, bytes: number, next: DroppedRow & { clock_ms: number }) => boolean,
  ): DropEvent | undefined {
    const rows: DroppedRow[] = [];
    let bytes = 0;
    for (const row of this.#oldest.iterate(lane)) {
      if (enough(rows.length, bytes, row)) break;
      rows.push({ seq: row.seq, bytes: row.bytes });
      bytes += row.bytes;
    }
    const last = rows[rows.length - 1];
    if (!last) return undefined;
    this.#delete.run(lane, last.seq);
    const outcome = this.ledger.recordDrop(lane, reason, rows, sentThrough, at);
    return {
      lane,
      reason,
      count: rows.length,
      bytes,
      through: last.seq,
      lost: outcome.lost,
      unconfirmed: outcome.unconfirmed,
    };
  }
}
