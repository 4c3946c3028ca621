import { type DropAnswer, type Lane, MAX_SKIP_RANGES } from '../../shared/index.js';
import type { Queryable } from './postgres-pool.js';
import type { SkipRange, SkipTotal } from './types.js';

interface SkipRow {
  epoch: string;
  lane: string;
  from_seq: number;
  to_seq: number;
  at: number;
}

/**
 * Skipped seqs (loss ledger) in PostgreSQL, the same semantics as `sqlite-skips.ts`:
 * inclusive ranges per (device, epoch, lane), adjacent ranges merged. `record` and `answer`
 * run inside the caller's ingest transaction (`q` is its client).
 */
export const postgresSkips = {
  /** Records that `[from, to]` was skipped, merged into a range ending at `from − 1`. */
  async record(
    q: Queryable,
    deviceId: string,
    epoch: string,
    lane: Lane,
    from: number,
    to: number,
    at: number,
  ) {
    const extended = await q.query(
      `UPDATE skips SET to_seq = $1, at = $2
       WHERE device_id = $3 AND epoch = $4 AND lane = $5 AND to_seq = $6`,
      [to, at, deviceId, epoch, lane, from - 1],
    );
    if ((extended.rowCount ?? 0) > 0) return;
    await q.query(
      'INSERT INTO skips (device_id, epoch, lane, from_seq, to_seq, at) VALUES ($1, $2, $3, $4, $5, $6)',
      [deviceId, epoch, lane, from, to, at],
    );
  },

  /** The skipped ranges within `[from, through]`, cut short past {@link MAX_SKIP_RANGES}. */
  async answer(
    q: Queryable,
    deviceId: string,
    epoch: string,
    lane: Lane,
    from: number,
    through: number,
  ): Promise<DropAnswer> {
    const { rows } = await q.query<SkipRow>(
      `SELECT epoch, lane, from_seq, to_seq, at FROM skips
       WHERE device_id = $1 AND epoch = $2 AND lane = $3 AND to_seq >= $4 AND from_seq <= $5
       ORDER BY from_seq LIMIT $6`,
      [deviceId, epoch, lane, from, through, MAX_SKIP_RANGES + 1],
    );
    const extra = rows.length > MAX_SKIP_RANGES ? rows[MAX_SKIP_RANGES] : undefined;
    const cut = extra === undefined ? through : Math.max(from - 1, extra.from_seq - 1);
    const skipped: Array<[number, number]> = [];
    for (const row of rows.slice(0, MAX_SKIP_RANGES)) {
      const first = Math.max(row.from_seq, from);
      const last = Math.min(row.to_seq, cut);
      if (first <= last) skipped.push([first, last]);
    }
    return { from, through: cut, skipped };
  },

  /** Every skipped range of a device, in `(epoch, lane, from)` order. */
  async list(q: Queryable, deviceId: string): Promise<SkipRange[]> {
    const { rows } = await q.query<SkipRow>(
      'SELECT epoch, lane, from_seq, to_seq, at FROM skips WHERE device_id = $1 ORDER BY epoch, lane, from_seq',
      [deviceId],
    );
    return rows.map((row) => ({
      epoch: row.epoch,
      lane: row.lane as Lane,
      from: row.from_seq,
      to: row.to_seq,
      at: row.at,
    }));
  },

  /** Seqs skipped per (epoch, lane) of a device. */
  async totals(q: Queryable, deviceId: string): Promise<SkipTotal[]> {
    const { rows } = await q.query<{ epoch: string; lane: string; n: number }>(
      `SELECT epoch, lane, SUM(to_seq - from_seq + 1)::BIGINT AS n FROM skips WHERE device_id = $1
       GROUP BY epoch, lane ORDER BY epoch, lane`,
      [deviceId],
    );
    return rows.map((row) => ({ epoch: row.epoch, lane: row.lane as Lane, count: row.n }));
  },
};
