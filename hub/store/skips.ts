import { type DropAnswer, type Lane, MAX_SKIP_RANGES } from '../../shared/index.js';
import type { Sql } from './sql/seam.js';
import type { HubStore, SkipRange, SkipTotal } from './types.js';

interface SkipRow {
  epoch: string;
  lane: string;
  from_seq: number;
  to_seq: number;
  at: number;
}

/** One lane of one device. */
export interface LaneKey {
  deviceId: string;
  epoch: string;
  lane: Lane;
}

/**
 * Records, inside the caller's ingest transaction, that `[from, to]` was skipped (the agent
 * dropped it): merged into a range ending at `from − 1`, else a new range. Together with the
 * stored events the ranges partition `1..hwm` of every lane.
 */
export async function recordSkip(
  q: Sql,
  key: LaneKey,
  from: number,
  to: number,
  atMs: number,
): Promise<void> {
  const extended = await q.run(
    `UPDATE skips SET to_seq = ?, at = ?
     WHERE device_id = ? AND epoch = ? AND lane = ? AND to_seq = ?`,
    [to, atMs, key.deviceId, key.epoch, key.lane, from - 1],
  );
  if (extended > 0) return;
  await q.run('INSERT INTO skips (device_id, epoch, lane, from_seq, to_seq, at) VALUES (?, ?, ?, ?, ?, ?)', [
    key.deviceId,
    key.epoch,
    key.lane,
    from,
    to,
    atMs,
  ]);
}

/**
 * What the hub did with `[from, through]` (all of it at or below the high-water mark): the
 * skipped ranges clipped to it. More than {@link MAX_SKIP_RANGES} ranges cut `through`
 * short just before the first range left out.
 */
export async function answerDrop(q: Sql, key: LaneKey, from: number, through: number): Promise<DropAnswer> {
  const rows = await q.all<SkipRow>(
    `SELECT epoch, lane, from_seq, to_seq, at FROM skips
     WHERE device_id = ? AND epoch = ? AND lane = ? AND to_seq >= ? AND from_seq <= ?
     ORDER BY from_seq LIMIT ?`,
    [key.deviceId, key.epoch, key.lane, from, through, MAX_SKIP_RANGES + 1],
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
}

/** The loss-ledger reads of {@link HubStore}. */
export type SkipArea = Pick<HubStore, 'listSkips' | 'skipTotals'>;

/** The seqs the hub skipped because the agent dropped them, per (device, epoch, lane). */
export function skipArea(db: Sql): SkipArea {
  return {
    async listSkips(deviceId: string): Promise<SkipRange[]> {
      const rows = await db.all<SkipRow>(
        'SELECT epoch, lane, from_seq, to_seq, at FROM skips WHERE device_id = ? ORDER BY epoch, lane, from_seq',
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

    async skipTotals(deviceId: string): Promise<SkipTotal[]> {
      const rows = await db.all<{ epoch: string; lane: string; n: number }>(
        `SELECT epoch, lane, CAST(SUM(to_seq - from_seq + 1) AS BIGINT) AS n FROM skips WHERE device_id = ?
         GROUP BY epoch, lane ORDER BY epoch, lane`,
        [deviceId],
      );
      return rows.map((row) => ({ epoch: row.epoch, lane: row.lane as Lane, count: row.n }));
    },
  };
}
