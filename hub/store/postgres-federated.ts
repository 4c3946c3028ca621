import { OutpostError } from '../../shared/index.js';
import type {
  FederatedStore,
  FlChunkRecord,
  FlRoundRecord,
  FlTaskRecord,
  FlUpdateRecord,
} from './federated-types.js';
import type { PgPool, Queryable } from './postgres-pool.js';

/** The federated tables on PostgreSQL; mirrors `FEDERATED_SQLITE_MIGRATION`. */
export const FEDERATED_POSTGRES_MIGRATION = `
  CREATE TABLE fl_tasks (
    id           TEXT COLLATE "C" PRIMARY KEY,
    spec         TEXT NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('running', 'done', 'stopped', 'failed')),
    round        INTEGER NOT NULL,
    server_state TEXT,
    best         TEXT,
    reason       TEXT,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL
  );
  CREATE TABLE fl_weights (
    task_id TEXT COLLATE "C" NOT NULL REFERENCES fl_tasks(id) ON DELETE CASCADE,
    round   INTEGER NOT NULL,
    weights BYTEA NOT NULL,
    PRIMARY KEY (task_id, round)
  );
  CREATE TABLE fl_rounds (
    task_id   TEXT COLLATE "C" NOT NULL REFERENCES fl_tasks(id) ON DELETE CASCADE,
    round     INTEGER NOT NULL,
    status    TEXT NOT NULL CHECK (status IN ('open', 'closed', 'failed')),
    selected  TEXT NOT NULL,
    opened_at BIGINT NOT NULL,
    deadline  BIGINT NOT NULL,
    closed_at BIGINT,
    metrics   TEXT NOT NULL,
    PRIMARY KEY (task_id, round)
  );
  CREATE TABLE fl_chunks (
    task_id   TEXT COLLATE "C" NOT NULL REFERENCES fl_tasks(id) ON DELETE CASCADE,
    round     INTEGER NOT NULL,
    device_id TEXT COLLATE "C" NOT NULL,
    idx       INTEGER NOT NULL,
    total     INTEGER NOT NULL,
    digest    TEXT NOT NULL,
    bytes     BYTEA NOT NULL,
    meta      TEXT NOT NULL,
    at        BIGINT NOT NULL,
    PRIMARY KEY (task_id, round, device_id, idx)
  );
  CREATE TABLE fl_updates (
    task_id    TEXT COLLATE "C" NOT NULL REFERENCES fl_tasks(id) ON DELETE CASCADE,
    round      INTEGER NOT NULL,
    device_id  TEXT COLLATE "C" NOT NULL,
    status     TEXT NOT NULL CHECK (status IN ('accepted', 'rejected', 'late')),
    reason     TEXT,
    applied_in INTEGER,
    at         BIGINT NOT NULL,
    PRIMARY KEY (task_id, round, device_id)
  );
  CREATE TABLE fl_evals (
    task_id   TEXT COLLATE "C" NOT NULL REFERENCES fl_tasks(id) ON DELETE CASCADE,
    round     INTEGER NOT NULL,
    device_id TEXT COLLATE "C" NOT NULL,
    examples  INTEGER NOT NULL,
    loss      DOUBLE PRECISION NOT NULL,
    accuracy  DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (task_id, round, device_id)
  );
`;

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

async function patchTask(q: Queryable, id: string, patch: TaskPatch, at = Date.now()): Promise<void> {
  const sets: string[] = [];
  const values: Array<string | number | null> = [];
  const add = (column: string, value: string | number | null) => {
    values.push(value);
    sets.push(`${column} = $${values.length}`);
  };
  if (patch.status !== undefined) add('status', patch.status);
  if (patch.round !== undefined) add('round', patch.round);
  if (patch.serverState !== undefined) add('server_state', patch.serverState);
  if (patch.best !== undefined) add('best', patch.best === null ? null : JSON.stringify(patch.best));
  if (patch.reason !== undefined) add('reason', patch.reason);
  add('updated_at', patch.updatedAt ?? at);
  values.push(id);
  await q.query(`UPDATE fl_tasks SET ${sets.join(', ')} WHERE id = $${values.length}`, values);
}

const INSERT_UPDATE = `INSERT INTO fl_updates (task_id, round, device_id, status, reason, applied_in, at)
  VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING`;
const updateValues = (u: FlUpdateRecord) => [
  u.taskId,
  u.round,
  u.deviceId,
  u.status,
  u.reason,
  u.appliedIn,
  u.at,
];

/**
 * {@link FederatedStore} on PostgreSQL, the semantics of `sqlite-federated.ts`:
 * a round close is one transaction; duplicates of chunks, updates and evaluations are ignored
 * (`ON CONFLICT DO NOTHING`), so two replicas receiving the same chunk store it once.
 */
export function postgresFederatedStore(pool: PgPool): FederatedStore {
  return {
    async createFlTask(task, weights) {
      await pool.tx(async (q) => {
        const inserted = await q.query(
          `INSERT INTO fl_tasks (id, spec, status, round, server_state, best, reason, created_at, updated_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING`,
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
        if (inserted.rowCount === 0) {
          throw new OutpostError('FL_BAD_PARAMS', `a federated task with id ${task.id} exists`);
        }
        await q.query('INSERT INTO fl_weights (task_id, round, weights) VALUES ($1, $2, $3)', [
          task.id,
          task.round,
          Buffer.from(weights),
        ]);
      });
    },
    async getFlTask(id) {
      const { rows } = await pool.query<TaskRow>('SELECT * FROM fl_tasks WHERE id = $1', [id]);
      return rows[0] === undefined ? undefined : toTask(rows[0]);
    },
    async listFlTasks() {
      const { rows } = await pool.query<TaskRow>('SELECT * FROM fl_tasks ORDER BY created_at DESC, id');
      return rows.map(toTask);
    },
    updateFlTask: (id, patch) => patchTask(pool, id, patch),
    async getFlWeights(taskId, round) {
      const { rows } = await pool.query<{ weights: Buffer }>(
        'SELECT weights FROM fl_weights WHERE task_id = $1 AND round = $2',
        [taskId, round],
      );
      return rows[0] === undefined ? undefined : new Uint8Array(rows[0].weights);
    },
    async openFlRound(r) {
      await pool.query(
        `INSERT INTO fl_rounds (task_id, round, status, selected, opened_at, deadline, closed_at, metrics)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING`,
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
    },
    async getFlRound(taskId, round) {
      const { rows } = await pool.query<RoundRow>(
        'SELECT * FROM fl_rounds WHERE task_id = $1 AND round = $2',
        [taskId, round],
      );
      return rows[0] === undefined ? undefined : toRound(rows[0]);
    },
    async listFlRounds(taskId) {
      const { rows } = await pool.query<RoundRow>(
        'SELECT * FROM fl_rounds WHERE task_id = $1 ORDER BY round',
        [taskId],
      );
      return rows.map(toRound);
    },
    async closeFlRound(c) {
      return pool.tx(async (q) => {
        const closed = await q.query(
          `UPDATE fl_rounds SET status = $1, closed_at = $2, metrics = $3
           WHERE task_id = $4 AND round = $5 AND status = 'open'`,
          [c.status, c.closedAt, JSON.stringify(c.metrics), c.taskId, c.round],
        );
        if (closed.rowCount === 0) return false;
        for (const u of c.updates) await q.query(INSERT_UPDATE, updateValues(u));
        if (c.next) {
          await q.query(
            `INSERT INTO fl_weights (task_id, round, weights) VALUES ($1, $2, $3)
             ON CONFLICT (task_id, round) DO UPDATE SET weights = excluded.weights`,
            [c.taskId, c.next.round, Buffer.from(c.next.weights)],
          );
        }
        await patchTask(q, c.taskId, c.task, c.closedAt);
        return true;
      });
    },
    async putFlChunk(c: FlChunkRecord) {
      await pool.query(
        `INSERT INTO fl_chunks (task_id, round, device_id, idx, total, digest, bytes, meta, at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING`,
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
      const { rows } = await pool.query<{ n: number }>(
        'SELECT COUNT(*) AS n FROM fl_chunks WHERE task_id = $1 AND round = $2 AND device_id = $3',
        [c.taskId, c.round, c.deviceId],
      );
      return rows[0]?.n ?? 0;
    },
    async getFlChunks(taskId, round, deviceId) {
      const { rows } = await pool.query<ChunkRow>(
        'SELECT * FROM fl_chunks WHERE task_id = $1 AND round = $2 AND device_id = $3 ORDER BY idx',
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
    async listFlPending(taskId, round) {
      const args: Array<string | number> = round === undefined ? [taskId] : [taskId, round];
      const { rows } = await pool.query<{
        round: number;
        device_id: string;
        chunks: number;
        total: number;
        first_at: number;
      }>(
        `SELECT c.round, c.device_id, COUNT(*) AS chunks, MAX(c.total) AS total, MIN(c.at) AS first_at
         FROM fl_chunks c
         WHERE c.task_id = $1 ${round === undefined ? '' : 'AND c.round = $2'}
           AND NOT EXISTS (SELECT 1 FROM fl_updates u
                           WHERE u.task_id = c.task_id AND u.round = c.round AND u.device_id = c.device_id)
         GROUP BY c.round, c.device_id
         ORDER BY first_at, c.device_id`,
        args,
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
      const result = await pool.query(INSERT_UPDATE, updateValues(u));
      return (result.rowCount ?? 0) > 0;
    },
    async listFlUpdates(taskId, round) {
      const { rows } =
        round === undefined
          ? await pool.query<UpdateRow>(
              'SELECT * FROM fl_updates WHERE task_id = $1 ORDER BY round, device_id',
              [taskId],
            )
          : await pool.query<UpdateRow>(
              'SELECT * FROM fl_updates WHERE task_id = $1 AND round = $2 ORDER BY device_id',
              [taskId, round],
            );
      return rows.map(toUpdate);
    },
    async putFlEval(e) {
      await pool.query(
        `INSERT INTO fl_evals (task_id, round, device_id, examples, loss, accuracy)
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING`,
        [e.taskId, e.round, e.deviceId, e.examples, e.loss, e.accuracy],
      );
    },
    async listFlEvals(taskId, round) {
      const { rows } = await pool.query<{
        device_id: string;
        examples: number;
        loss: number;
        accuracy: number;
      }>(
        'SELECT device_id, examples, loss, accuracy FROM fl_evals WHERE task_id = $1 AND round = $2 ORDER BY device_id',
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
