import { ROUND_OPEN } from '../federated/round-state.js';
import type { FlPruned, FlRetentionStore } from './federated-retention-types.js';
import type { Sql, SqlValue } from './sql/seam.js';

/** Advisory lock of the prune statements on PostgreSQL: replicas delete one batch at a time. */
const FL_PRUNE_LOCK = 0x6f75_7472; // "outr"

/** Largest round number a bound parameter may carry (the columns are 32-bit INTEGER on PostgreSQL). */
const MAX_ROUND = 2_147_483_647;

const roundParam = (n: number): number => Math.max(0, Math.min(MAX_ROUND, Math.floor(n)));

/**
 * A subquery: the round of row `alias` is open in a running task (one `?`: `ROUND_OPEN`).
 * The round a stopped task left open is not protected: nothing of it is needed any more.
 */
const OPEN_ROUND = (alias: string) => `SELECT 1 FROM fl_rounds r JOIN fl_tasks t ON t.id = r.task_id
  WHERE r.task_id = ${alias}.task_id AND r.round = ${alias}.round AND r.status = ? AND t.status = 'running'`;

/** Runs one bounded `DELETE … RETURNING size` under the prune lock; the rows and bytes it deleted. */
function deleteBatch(db: Sql, sql: string, params: readonly SqlValue[]): Promise<FlPruned> {
  return db.tx(async (q) => {
    if (q.dialect.advisoryLock !== undefined) await q.get(q.dialect.advisoryLock, [FL_PRUNE_LOCK]);
    const rows = await q.all<{ size: number | string | null }>(sql, params);
    return { rows: rows.length, bytes: rows.reduce((sum, r) => sum + Number(r.size ?? 0), 0) };
  });
}

/** The rows and bytes of `column` in `table`, of one task or of all. */
async function held(db: Sql, table: string, column: string, taskId: string | undefined): Promise<FlPruned> {
  const row = await db.get<{ n: number | string; b: number | string | null }>(
    `SELECT COUNT(*) AS n, COALESCE(SUM(LENGTH(${column})), 0) AS b FROM ${table}
     ${taskId === undefined ? '' : 'WHERE task_id = ?'}`,
    taskId === undefined ? [] : [taskId],
  );
  return { rows: Number(row?.n ?? 0), bytes: Number(row?.b ?? 0) };
}

/**
 * Bounded deletes of the federated bytes no round can use any more (see
 * {@link FlRetentionStore}). Each call is one statement deleting at most `limit` rows, so a
 * large backlog goes in short transactions; a row another replica deleted first is skipped.
 */
export function flRetentionArea(db: Sql): FlRetentionStore {
  return {
    pruneFlChunks(taskId, { deadBefore, incompleteBefore, limit }) {
      return deleteBatch(
        db,
        `DELETE FROM fl_chunks WHERE (task_id, round, device_id, idx) IN (
           SELECT c.task_id, c.round, c.device_id, c.idx FROM fl_chunks c
           WHERE c.task_id = ?
             AND NOT EXISTS (${OPEN_ROUND('c')})
             AND (c.round < ?
                  OR EXISTS (SELECT 1 FROM fl_updates u
                             WHERE u.task_id = c.task_id AND u.round = c.round AND u.device_id = c.device_id)
                  OR (c.round < ? AND c.total > (SELECT COUNT(*) FROM fl_chunks h
                      WHERE h.task_id = c.task_id AND h.round = c.round AND h.device_id = c.device_id)))
           ORDER BY c.round, c.device_id, c.idx
           LIMIT ?)
         RETURNING LENGTH(bytes) AS size`,
        [taskId, ROUND_OPEN, roundParam(deadBefore), roundParam(incompleteBefore), Math.max(1, limit)],
      );
    },
    pruneFlWeights(taskId, { before, keep, limit }) {
      const kept = [...new Set(keep.map(roundParam))];
      return deleteBatch(
        db,
        `DELETE FROM fl_weights WHERE (task_id, round) IN (
           SELECT w.task_id, w.round FROM fl_weights w
           WHERE w.task_id = ? AND w.round < ?
             ${kept.length > 0 ? `AND w.round NOT IN (${kept.map(() => '?').join(', ')})` : ''}
             AND NOT EXISTS (${OPEN_ROUND('w')})
           ORDER BY w.round
           LIMIT ?)
         RETURNING LENGTH(weights) AS size`,
        [taskId, roundParam(before), ...kept, ROUND_OPEN, Math.max(1, limit)],
      );
    },
    async flStorage(taskId) {
      return {
        chunks: await held(db, 'fl_chunks', 'bytes', taskId),
        weights: await held(db, 'fl_weights', 'weights', taskId),
      };
    },
  };
}
