import type { Lane } from '../../shared/index.js';
import { ROUND_OPEN } from '../federated/round-state.js';
import type {
  EventLaneRef,
  EventRetentionStore,
  EventsPruned,
  LearningKeep,
} from './event-retention-types.js';
import { chunks, placeholders, type Sql } from './sql/seam.js';

/** Advisory lock of the event prune batches on PostgreSQL: replicas delete one batch at a time. */
const EVENTS_PRUNE_LOCK = 0x6f75_7465; // "oute"

/** Never deleted: a pending one waits for the re-scorer, a done one's outcome row references it. */
const RESCORE_EVENT = 'inference.rescore';

interface Candidate {
  seq: number;
  type: string;
  received_at: number | string;
  task?: string | null;
  round?: number | string | null;
}

/** The highest seq of `ref` both telemetry folds have read (0 before either has). */
async function foldedThrough(q: Sql, ref: EventLaneRef): Promise<number> {
  const row = await q.get<{ t: number | null; m: number | null }>(
    `SELECT (SELECT seq FROM telemetry_cursor WHERE device_id = ? AND epoch = ?) AS t,
            (SELECT seq FROM model_metrics_cursor WHERE device_id = ? AND epoch = ?) AS m`,
    [ref.deviceId, ref.epoch, ref.deviceId, ref.epoch],
  );
  return Math.min(Number(row?.t ?? 0), Number(row?.m ?? 0));
}

/** Whether a learning event's `(task, round)` must stay: an open round, or one the caller keeps. */
function learningNeeded(c: Candidate, open: ReadonlySet<string>, keep: readonly LearningKeep[]): boolean {
  if (c.task === null || c.task === undefined || c.round === null || c.round === undefined) return false;
  const round = Number(c.round);
  const task = String(c.task);
  if (open.has(`${task}\u0000${round}`)) return true;
  return keep.some((k) => k.task === task && !(round < k.fromRound));
}

async function prune(
  q: Sql,
  ref: EventLaneRef,
  o: { receivedBefore: number; afterSeq: number; keep: readonly LearningKeep[]; limit: number },
): Promise<EventsPruned> {
  if (q.dialect.advisoryLock !== undefined) await q.get(q.dialect.advisoryLock, [EVENTS_PRUNE_LOCK]);
  const key = [ref.deviceId, ref.epoch, ref.lane];
  const limit = Math.max(1, Math.floor(o.limit));
  // Both folds' cursors only move forward and were committed with what they folded.
  const through = ref.lane === 'telemetry' ? await foldedThrough(q, ref) : Number.MAX_SAFE_INTEGER;
  const learning = ref.lane === 'learning';
  const fields = learning
    ? `, ${q.dialect.jsonField('body', 'task')} AS task, ${q.dialect.jsonField('body', 'round')} AS round`
    : '';
  // Oldest seq first, and the batch ends at the lane's first event received at or after the
  // cut: a lane's events are stored in seq order, so what follows it is younger too. Filtering
  // on `received_at` in SQL instead would walk every young row of the lane through the primary
  // key on every pass, however few were old. A lane whose next event is young costs one row.
  const head = await q.get<{ received_at: number | string }>(
    `SELECT received_at FROM events
     WHERE device_id = ? AND epoch = ? AND lane = ? AND seq > ? AND seq <= ?
     ORDER BY seq LIMIT 1`,
    [...key, o.afterSeq, through],
  );
  if (head === undefined || Number(head.received_at) >= o.receivedBefore)
    return { deleted: 0, lastSeq: o.afterSeq, done: true };
  const read = await q.all<Candidate>(
    `SELECT seq, type, received_at${fields} FROM events
     WHERE device_id = ? AND epoch = ? AND lane = ? AND seq > ? AND seq <= ?
     ORDER BY seq LIMIT ?`,
    [...key, o.afterSeq, through, limit],
  );
  const young = read.findIndex((c) => Number(c.received_at) >= o.receivedBefore);
  const candidates = young === -1 ? read : read.slice(0, young);
  const open = new Set<string>();
  if (learning && candidates.length > 0) {
    const rounds = await q.all<{ task_id: string; round: number }>(
      `SELECT r.task_id, r.round FROM fl_rounds r JOIN fl_tasks t ON t.id = r.task_id
       WHERE r.status = ? AND t.status = 'running'`,
      [ROUND_OPEN],
    );
    for (const r of rounds) open.add(`${r.task_id}\u0000${Number(r.round)}`);
  }
  const doomed = candidates
    .filter((c) => c.type !== RESCORE_EVENT && !(learning && learningNeeded(c, open, o.keep)))
    .map((c) => Number(c.seq));
  let deleted = 0;
  for (const seqs of chunks(doomed)) {
    const rows = await q.all<{ seq: number }>(
      `DELETE FROM events WHERE device_id = ? AND epoch = ? AND lane = ? AND seq IN ${placeholders(seqs.length)}
       RETURNING seq`,
      [...key, ...seqs],
    );
    deleted += rows.length;
  }
  const last = candidates.at(-1);
  return {
    deleted,
    lastSeq: last === undefined ? o.afterSeq : Number(last.seq),
    done: young !== -1 || read.length < limit,
  };
}

/**
 * Bounded deletes of consumed old events (see {@link EventRetentionStore}): each batch is one
 * transaction that reads at most `limit` candidates of one lane by its primary key and deletes
 * the ones no reader needs.
 */
export function eventRetentionArea(db: Sql): EventRetentionStore {
  return {
    async listEventLanes(after, limit) {
      const rows = await db.all<{ device_id: string; epoch: string; lane: string }>(
        `SELECT device_id, epoch, lane FROM hwm
         ${after === undefined ? '' : 'WHERE (device_id, epoch, lane) > (?, ?, ?)'}
         ORDER BY device_id, epoch, lane LIMIT ?`,
        after === undefined ? [limit] : [after.deviceId, after.epoch, after.lane, limit],
      );
      return rows.map((r) => ({ deviceId: r.device_id, epoch: r.epoch, lane: r.lane as Lane }));
    },
    pruneEvents: (ref, opts) => db.tx((q) => prune(q, ref, opts)),
  };
}
