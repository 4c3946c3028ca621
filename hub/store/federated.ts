import { OutpostError } from '../../shared/index.js';
import { ROUND_OPEN } from '../federated/round-state.js';
import type { FederatedStore, FlRoundRecord, FlTaskRecord, FlUpdateRecord } from './federated-types.js';
import type { Sql, SqlValue } from './sql/seam.js';

interface TaskRow {
  id: string;
  spec: string;
  status: FlTaskRecord['status'];
  round: number;
  server_state: string | null;
  best: string | null;
  reason: string | null;
  created_at: number;
  updated_at: number;
}
interface RoundRow {
  task_id: string;
  round: number;
  status: FlRoundRecord['status'];
  selected: string;
  opened_at: number;
  deadline: number;
  closed_at: number | null;
  metrics: string;
}
interface ChunkRow {
  task_id: string;
  round: number;
  device_id: string;
  idx: number;
  total: number;
  digest: string;
  bytes: Buffer;
  meta: string;
  at: number;
}
interface UpdateRow {
  task_id: string;
  round: number;
  device_id: string;
  status: FlUpdateRecord['status'];
  reason: string | null;
  applied_in: number | null;
  at: number;
}

const toTask = (r: TaskRow): FlTaskRecord => ({
  id: r.id,
  spec: JSON.parse(r.spec) as Record<string, unknown>,
  status: r.status,
  round: r.round,
  serverState: r.server_state,
  best: r.best === null ? null : (JSON.parse(r.best) as FlTaskRecord['best']),
  reason: r.reason,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});
const toRound = (r: RoundRow): FlRoundRecord => ({
  taskId: r.task_id,
  round: r.round,
  status: r.status,
  selected: JSON.parse(r.selected) as string[],
  openedAt: r.opened_at,
  deadline: r.deadline,
  closedAt: r.closed_at,
  metrics: JSON.parse(r.metrics) as Record<string, unknown>,
});
const toUpdate = (r: UpdateRow): FlUpdateRecord => ({
  taskId: r.task_id,
  round: r.round,
  deviceId: r.device_id,
  status: r.status,
  reason: r.reason,
  appliedIn: r.applied_in,
  at: r.at,
});

type TaskPatch = Parameters<FederatedStore['updateFlTask']>[1];

async function patchTask(q: Sql, id: string, patch: TaskPatch, at = Date.now()): Promise<void> {
  const sets: string[] = [];
  const values: SqlValue[] = [];
  const add = (column: string, value: string | number | null) => {
    sets.push(`${column} = ?`);
    values.push(value);
  };
  if (patch.status !== undefined) add('status', patch.status);
  if (patch.round !== undefined) add('round', patch.round);
  if (patch.serverState !== undefined) add('server_state', patch.serverState);
  if (patch.best !== undefined) add('best', patch.best === null ? null : JSON.stringify(patch.best));
  if (patch.reason !== undefined) add('reason', patch.reason);
  add('updated_at', patch.updatedAt ?? at);
  await q.run(`UPDATE fl_tasks SET ${sets.join(', ')} WHERE id = ?`, [...values, id]);
}

const INSERT_UPDATE = `INSERT INTO fl_updates (task_id, round, device_id, status, reason, applied_in, at)
  VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`;
const updateValues = (u: FlUpdateRecord) => [
  u.taskId,
  u.round,
  u.deviceId,
  u.status,
  u.reason,
  u.appliedIn,
  u.at,
];

/** Inserts a round's row unless it exists; 1 when inserted, else 0 (secure rounds use it too). */
export function insertFlRound(q: Sql, r: FlRoundRecord): Promise<number> {
  return q.run(
    `INSERT INTO fl_rounds (task_id, round, status, selected, opened_at, deadline, closed_at, metrics)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
    [
      r.taskId,
      r.round,
      r.status,
      JSON.stringify(r.selected),
      r.openedAt,
      r.deadline,
      r.closedAt,
      JSON.stringify(r.metrics),
    ],
  );
}

/**
 * Federated tasks, rounds, weights, update chunks and outcomes, evaluations. A round close
 * is one transaction; duplicates of chunks, updates and evaluations are ignored
 * (`ON CONFLICT DO NOTHING`), so two replicas receiving the same chunk store it once.
 */
export function federatedArea(db: Sql): FederatedStore {
  return {
    async createFlTask(task, weights) {
      await db.tx(async (q) => {
        const inserted = await q.run(
          `INSERT INTO fl_tasks (id, spec, status, round, server_state, best, reason, created_at, updated_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
          [
            task.id,
            JSON.stringify(task.spec),
            task.status,
            task.round,
            task.serverState,
            task.best === null ? null : JSON.stringify(task.best),
            task.reason,
            task.createdAt,
            task.updatedAt,
          ],
        );
        if (inserted === 0)
          throw new OutpostError('FL_BAD_PARAMS', `a federated task with id ${task.id} exists`);
        await q.run('INSERT INTO fl_weights (task_id, round, weights) VALUES (?, ?, ?)', [
          task.id,
          task.round,
          Buffer.from(weights),
        ]);
      });
    },
    async getFlTask(id) {
      const row = await db.get<TaskRow>('SELECT * FROM fl_tasks WHERE id = ?', [id]);
      return row === undefined ? undefined : toTask(row);
    },
    async listFlTasks() {
      return (await db.all<TaskRow>('SELECT * FROM fl_tasks ORDER BY created_at DESC, id')).map(toTask);
    },
    updateFlTask: (id, patch) => patchTask(db, id, patch),
    async getFlWeights(taskId, round) {
      const row = await db.get<{ weights: Buffer }>(
        'SELECT weights FROM fl_weights WHERE task_id = ? AND round = ?',
        [taskId, round],
      );
      return row === undefined ? undefined : new Uint8Array(row.weights);
    },
    async openFlRound(r) {
      await insertFlRound(db, r);
    },
    async getFlRound(taskId, round) {
      const row = await db.get<RoundRow>('SELECT * FROM fl_rounds WHERE task_id = ? AND round = ?', [
        taskId,
        round,
      ]);
      return row === undefined ? undefined : toRound(row);
    },
    async listFlRounds(taskId) {
      return (
        await db.all<RoundRow>('SELECT * FROM fl_rounds WHERE task_id = ? ORDER BY round', [taskId])
      ).map(toRound);
    },
    closeFlRound(c) {
      return db.tx(async (q) => {
        // hub/federated/round-state.ts: only an open round ends, and only once.
        const closed = await q.run(
          `UPDATE fl_rounds SET status = ?, closed_at = ?, metrics = ?
           WHERE task_id = ? AND round = ? AND status = ?`,
          [c.status, c.closedAt, JSON.stringify(c.metrics), c.taskId, c.round, ROUND_OPEN],
        );
        if (closed === 0) return false;
        for (const u of c.updates) await q.run(INSERT_UPDATE, updateValues(u));
        if (c.next) {
          await q.run(
            `INSERT INTO fl_weights (task_id, round, weights) VALUES (?, ?, ?)
             ON CONFLICT (task_id, round) DO UPDATE SET weights = excluded.weights`,
            [c.taskId, c.next.round, Buffer.from(c.next.weights)],
          );
        }
        await patchTask(q, c.taskId, c.task, c.closedAt);
        return true;
      });
    },
    async putFlChunk(c) {
      await db.run(
        `INSERT INTO fl_chunks (task_id, round, device_id, idx, total, digest, bytes, meta, at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
        [
          c.taskId,
          c.round,
          c.deviceId,
          c.index,
          c.total,
          c.digest,
          Buffer.from(c.bytes),
          JSON.stringify(c.meta),
          c.at,
        ],
      );
      const row = await db.get<{ n: number }>(
        'SELECT COUNT(*) AS n FROM fl_chunks WHERE task_id = ? AND round = ? AND device_id = ?',
        [c.taskId, c.round, c.deviceId],
      );
      return row?.n ?? 0;
    },
    async getFlChunks(taskId, round, deviceId) {
      const rows = await db.all<ChunkRow>(
        'SELECT * FROM fl_chunks WHERE task_id = ? AND round = ? AND device_id = ? ORDER BY idx',
        [taskId, round, deviceId],
      );
      return rows.map((r) => ({
        taskId: r.task_id,
        round: r.round,
        deviceId: r.device_id,
        index: r.idx,
        total: r.total,
        digest: r.digest,
        bytes: new Uint8Array(r.bytes),
        meta: JSON.parse(r.meta) as Record<string, unknown>,
        at: r.at,
      }));
    },
    async getFlChunkHeads(taskId, round, deviceId) {
      const rows = await db.all<{ idx: number; total: number; digest: string; size: number }>(
        `SELECT idx, total, digest, LENGTH(bytes) AS size FROM fl_chunks
         WHERE task_id = ? AND round = ? AND device_id = ? ORDER BY idx`,
        [taskId, round, deviceId],
      );
      return rows.map((r) => ({ index: r.idx, total: r.total, digest: r.digest, size: Number(r.size) }));
    },
    dropFlChunks(taskId, round, deviceId, fromIndex) {
      return db.run('DELETE FROM fl_chunks WHERE task_id = ? AND round = ? AND device_id = ? AND idx >= ?', [
        taskId,
        round,
        deviceId,
        fromIndex,
      ]);
    },
    async listFlPending(taskId, round) {
      const rows = await db.all<{
        round: number;
        device_id: string;
        chunks: number;
        total: number;
        first_at: number;
      }>(
        `SELECT c.round, c.device_id, COUNT(*) AS chunks, MAX(c.total) AS total, MIN(c.at) AS first_at
         FROM fl_chunks c
         WHERE c.task_id = ? ${round === undefined ? '' : 'AND c.round = ?'}
           AND NOT EXISTS (SELECT 1 FROM fl_updates u
                           WHERE u.task_id = c.task_id AND u.round = c.round AND u.device_id = c.device_id)
         GROUP BY c.round, c.device_id
         ORDER BY first_at, c.device_id`,
        round === undefined ? [taskId] : [taskId, round],
      );
      return rows.map((r) => ({
        round: r.round,
        deviceId: r.device_id,
        chunks: r.chunks,
        total: r.total,
        firstAt: r.first_at,
      }));
    },
    async putFlUpdate(u) {
      return (await db.run(INSERT_UPDATE, updateValues(u))) > 0;
    },
    async listFlUpdates(taskId, round) {
      const rows =
        round === undefined
          ? await db.all<UpdateRow>('SELECT * FROM fl_updates WHERE task_id = ? ORDER BY round, device_id', [
              taskId,
            ])
          : await db.all<UpdateRow>(
              'SELECT * FROM fl_updates WHERE task_id = ? AND round = ? ORDER BY device_id',
              [taskId, round],
            );
      return rows.map(toUpdate);
    },
    async putFlEval(e) {
      await db.run(
        `INSERT INTO fl_evals (task_id, round, device_id, examples, loss, accuracy)
         VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
        [e.taskId, e.round, e.deviceId, e.examples, e.loss, e.accuracy],
      );
    },
    async listFlEvals(taskId, round) {
      const rows = await db.all<{ device_id: string; examples: number; loss: number; accuracy: number }>(
        'SELECT device_id, examples, loss, accuracy FROM fl_evals WHERE task_id = ? AND round = ? ORDER BY device_id',
        [taskId, round],
      );
      return rows.map((r) => ({
        taskId,
        round,
        deviceId: r.device_id,
        examples: r.examples,
        loss: r.loss,
        accuracy: r.accuracy,
      }));
    },
  };
}
