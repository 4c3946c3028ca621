import type { Database, Statement } from 'better-sqlite3';
import { type DropAnswer, type Lane, MAX_SKIP_RANGES } from '../../shared/index.js';
import type { SkipRange, SkipTotal } from './types.js';

interface SkipRow {
  epoch: string;
  lane: string;
  from_seq: number;
  to_seq: number;
  at: number;
}

/**
 * The seqs the hub skipped because the agent dropped them (loss ledger), as
 * inclusive ranges per (device, epoch, lane); adjacent ranges are merged. Together with the
 * stored events they partition `1..hwm` of every lane. Methods are synchronous and run
 * inside the caller's ingest transaction.
 */
export class SqliteSkips {
  private readonly extend: Statement<[number, number, string, string, string, number]>;
  private readonly insert: Statement<[string, string, string, number, number, number]>;
  private readonly within: Statement<[string, string, string, number, number, number], SkipRow>;
  private readonly byDevice: Statement<[string], SkipRow>;
  private readonly totals: Statement<[string], { epoch: string; lane: string; n: number }>;

  constructor(db: Database) {
    this.extend = db.prepare(
      `UPDATE skips SET to_seq = ?, at = ?
       WHERE device_id = ? AND epoch = ? AND lane = ? AND to_seq = ?`,
    );
    this.insert = db.prepare(
      'INSERT INTO skips (device_id, epoch, lane, from_seq, to_seq, at) VALUES (?, ?, ?, ?, ?, ?)',
    );
    this.within = db.prepare(
      `SELECT epoch, lane, from_seq, to_seq, at FROM skips
       WHERE device_id = ? AND epoch = ? AND lane = ? AND to_seq >= ? AND from_seq <= ?
       ORDER BY from_seq LIMIT ?`,
    );
    this.byDevice = db.prepare(
      'SELECT epoch, lane, from_seq, to_seq, at FROM skips WHERE device_id = ? ORDER BY epoch, lane, from_seq',
    );
    this.totals = db.prepare(
      `SELECT epoch, lane, SUM(to_seq - from_seq + 1) AS n FROM skips WHERE device_id = ?
       GROUP BY epoch, lane ORDER BY epoch, lane`,
    );
  }

  /** Records that `[from, to]` was skipped, merged into a range ending at `from − 1`. */
  record(deviceId: string, epoch: string, lane: Lane, from: number, to: number, atMs: number): void {
    if (this.extend.run(to, atMs, deviceId, epoch, lane, from - 1).changes > 0) return;
    this.insert.run(deviceId, epoch, lane, from, to, atMs);
  }

  /**
   * What the hub did with `[from, through]` (all of it at or below the high-water mark): the
   * skipped ranges clipped to it. More than {@link MAX_SKIP_RANGES} ranges cut `through`
   * short just before the first range left out.
   */
  answer(deviceId: string, epoch: string, lane: Lane, from: number, through: number): DropAnswer {
    const rows = this.within.all(deviceId, epoch, lane, from, through, MAX_SKIP_RANGES + 1);
    const extra = rows.length > MAX_SKIP_RANGES ? rows[MAX_SKIP_RANGES] : undefined;
    const cut = extra === undefined ? through : Math.max(from - 1, extra.from_seq - 1);
    const skipped: Array<[number, number]> = [];
    for (const row of rows.slice(0, MAX_SKIP_RANGES)) {
      const first = Math.max(row.from_seq, from);
      const last = Math.min(row.to_seq, cut);
      if (first <= last) skipped.push([first, last]);
    }
    return { from, through: cut, skipped };
  }

  /** Every skipped range of a device, in `(epoch, lane, from)` order. */
  list(deviceId: string): SkipRange[] {
    return this.byDevice.all(deviceId).map((row) => ({
      epoch: row.epoch,
      lane: row.lane as Lane,
      from: row.from_seq,
      to: row.to_seq,
      at: row.at,
    }));
  }

  /** Seqs skipped per (epoch, lane) of a device. */
  total(deviceId: string): SkipTotal[] {
    return this.totals
      .all(deviceId)
      .map((row) => ({ epoch: row.epoch, lane: row.lane as Lane, count: row.n }));
  }
}
