import type { Database } from 'better-sqlite3';
import { OutpostError } from '../../shared/index.js';
import type {
  FederatedStore,
  FlChunkRecord,
  FlEvalRecord,
  FlPendingUpdate,
  FlRoundRecord,
  FlTaskRecord,
  FlUpdateRecord,
} from './federated-types.js';

/** The hub SQLite migration of federated learning, appended in `sqlite-schema.ts`. */
export const FEDERATED_SQLITE_MIGRATION = `
  CREATE TABLE fl_tasks (
    id           TEXT PRIMARY KEY,
    spec         TEXT NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('running', 'done', 'stopped', 'failed')),
    round        INTEGER NOT NULL,
    server_state TEXT,
    best         TEXT,
    reason       TEXT,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
  ) STRICT;
  CREATE TABLE fl_weights (
    task_id TEXT NOT NULL REFERENCES fl_tasks(id) ON DELETE CASCADE,
    round   INTEGER NOT NULL,
    weights BLOB NOT NULL,
    PRIMARY KEY (task_id, round)
  ) STRICT;
  CREATE TABLE fl_rounds (
    task_id   TEXT NOT NULL REFERENCES fl_tasks(id) ON DELETE CASCADE,
    round     INTEGER NOT NULL,
    status    TEXT NOT NULL CHECK (status IN ('open', 'closed', 'failed')),
    selected  TEXT NOT NULL,
    opened_at INTEGER NOT NULL,
    deadline  INTEGER NOT NULL,
    closed_at INTEGER,
    metrics   TEXT NOT NULL,
    PRIMARY KEY (task_id, round)
  ) STRICT;
  CREATE TABLE fl_chunks (
    task_id   TEXT NOT NULL REFERENCES fl_tasks(id) ON DELETE CASCADE,
    round     INTEGER NOT NULL,
    device_id TEXT NOT NULL,
    idx       INTEGER NOT NULL,
    total     INTEGER NOT NULL,
    digest    TEXT NOT NULL,
    bytes     BLOB NOT NULL,
    meta      TEXT NOT NULL,
    at        INTEGER NOT NULL,
    PRIMARY KEY (task_id, round, device_id, idx)
  ) STRICT;
  CREATE TABLE fl_updates (
    task_id    TEXT NOT NULL REFERENCES fl_tasks(id) ON DELETE CASCADE,
    round      INTEGER NOT NULL,
    device_id  TEXT NOT NULL,
    status     TEXT NOT NULL CHECK (status IN ('accepted', 'rejected', 'late')),
    reason     TEXT,
    applied_in INTEGER,
    at         INTEGER NOT NULL,
    PRIMARY KEY (task_id, round, device_id)
  ) STRICT;
  CREATE TABLE fl_evals (
    task_id   TEXT NOT NULL REFERENCES fl_tasks(id) ON DELETE CASCADE,
    round     INTEGER NOT NULL,
    device_id TEXT NOT NULL,
    examples  INTEGER NOT NULL,
    loss      REAL NOT NULL,
    accuracy  REAL NOT NULL,
    PRIMARY KEY (task_id, round, device_id)
  ) STRICT;
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

/**
 * SQLite implementation of {@link FederatedStore} over the hub's database (its tables come
 * from {@link FEDERATED_SQLITE_MIGRATION}). Synchronous inside; the store wraps it in promises.
 */
export class SqliteFederated implements FederatedStore {
  readonly #db: Database;
  readonly #closeTx: (close: Parameters<FederatedStore['closeFlRound']>[0]) => boolean;

  constructor(db: Database) {
    this.#db = db;
    this.#closeTx = db.transaction((c: Parameters<FederatedStore['closeFlRound']>[0]) => {
      const closed = db
        .prepare(
          `UPDATE fl_rounds SET status = ?, closed_at = ?, metrics = ?
           WHERE task_id = ? AND round = ? AND status = 'open'`,
        )
        .run(c.status, c.closedAt, JSON.stringify(c.metrics), c.taskId, c.round);
      if (closed.changes === 0) return false;
      const put = db.prepare(
        `INSERT OR IGNORE INTO fl_updates (task_id, round, device_id, status, reason, applied_in, at)
         VALUES (?, ?, ?, ?, ?, ?, ?)`,
      );
      for (const u of c.updates)
        put.run(u.taskId, u.round, u.deviceId, u.status, u.reason, u.appliedIn, u.at);
      if (c.next) {
        db.prepare('INSERT OR REPLACE INTO fl_weights (task_id, round, weights) VALUES (?, ?, ?)').run(
          c.taskId,
          c.next.round,
          Buffer.from(c.next.weights),
        );
      }
      this.#patchTask(c.taskId, c.task, c.closedAt);
      return true;
    });
  }

  #patchTask(id: string, patch: Parameters<FederatedStore['updateFlTask']>[1], at = Date.now()): void {
    const sets: string[] = [];
    const values: Array<string | number | null> = [];
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
    this.#db.prepare(`UPDATE fl_tasks SET ${sets.join(', ')} WHERE id = ?`).run(...values, id);
  }

  async createFlTask(task: FlTaskRecord, weights: Uint8Array): Promise<void> {
    const tx = this.#db.transaction(() => {
      const taken = this.#db.prepare('SELECT 1 FROM fl_tasks WHERE id = ?').get(task.id);
      if (taken !== undefined)
        throw new OutpostError('FL_BAD_PARAMS', `a federated task with id ${task.id} exists`);
      this.#db
        .prepare(
          `INSERT INTO fl_tasks (id, spec, status, round, server_state, best, reason, created_at, updated_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(
          task.id,
          JSON.stringify(task.spec),
          task.status,
          task.round,
          task.serverState,
          task.best === null ? null : JSON.stringify(task.best),
          task.reason,
          task.createdAt,
          task.updatedAt,
        );
      this.#db
        .prepare('INSERT INTO fl_weights (task_id, round, weights) VALUES (?, ?, ?)')
        .run(task.id, task.round, Buffer.from(weights));
    });
    tx();
  }

  async getFlTask(id: string): Promise<FlTaskRecord | undefined> {
    const row = this.#db.prepare<[string], TaskRow>('SELECT * FROM fl_tasks WHERE id = ?').get(id);
    return row === undefined ? undefined : toTask(row);
  }

  async listFlTasks(): Promise<FlTaskRecord[]> {
    return this.#db
      .prepare<[], TaskRow>('SELECT * FROM fl_tasks ORDER BY created_at DESC, id')
      .all()
      .map(toTask);
  }

  async updateFlTask(id: string, patch: Parameters<FederatedStore['updateFlTask']>[1]): Promise<void> {
    this.#patchTask(id, patch);
  }

  async getFlWeights(taskId: string, round: number): Promise<Uint8Array | undefined> {
    const row = this.#db
      .prepare<[string, number], { weights: Buffer }>(
        'SELECT weights FROM fl_weights WHERE task_id = ? AND round = ?',
      )
      .get(taskId, round);
    return row === undefined ? undefined : new Uint8Array(row.weights);
  }

  async openFlRound(r: FlRoundRecord): Promise<void> {
    this.#db
      .prepare(
        `INSERT OR IGNORE INTO fl_rounds (task_id, round, status, selected, opened_at, deadline, closed_at, metrics)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        r.taskId,
        r.round,
        r.status,
        JSON.stringify(r.selected),
        r.openedAt,
        r.deadline,
        r.closedAt,
        JSON.stringify(r.metrics),
      );
  }

  async getFlRound(taskId: string, round: number): Promise<FlRoundRecord | undefined> {
    const row = this.#db
      .prepare<[string, number], RoundRow>('SELECT * FROM fl_rounds WHERE task_id = ? AND round = ?')
      .get(taskId, round);
    return row === undefined ? undefined : toRound(row);
  }

  async listFlRounds(taskId: string): Promise<FlRoundRecord[]> {
    return this.#db
      .prepare<[string], RoundRow>('SELECT * FROM fl_rounds WHERE task_id = ? ORDER BY round')
      .all(taskId)
      .map(toRound);
  }

  async closeFlRound(close: Parameters<FederatedStore['closeFlRound']>[0]): Promise<boolean> {
    return this.#closeTx(close);
  }

  async putFlChunk(c: FlChunkRecord): Promise<number> {
    this.#db
      .prepare(
        `INSERT OR IGNORE INTO fl_chunks (task_id, round, device_id, idx, total, digest, bytes, meta, at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        c.taskId,
        c.round,
        c.deviceId,
        c.index,
        c.total,
        c.digest,
        Buffer.from(c.bytes),
        JSON.stringify(c.meta),
        c.at,
      );
    const row = this.#db
      .prepare<[string, number, string], { n: number }>(
        'SELECT COUNT(*) AS n FROM fl_chunks WHERE task_id = ? AND round = ? AND device_id = ?',
      )
      .get(c.taskId, c.round, c.deviceId);
    return row?.n ?? 0;
  }

  async getFlChunks(taskId: string, round: number, deviceId: string): Promise<FlChunkRecord[]> {
    return this.#db
      .prepare<[string, number, string], ChunkRow>(
        'SELECT * FROM fl_chunks WHERE task_id = ? AND round = ? AND device_id = ? ORDER BY idx',
      )
      .all(taskId, round, deviceId)
      .map((r) => ({
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
  }

  async listFlPending(taskId: string, round?: number): Promise<FlPendingUpdate[]> {
    const where = round === undefined ? '' : 'AND c.round = ?';
    const args: Array<string | number> = round === undefined ? [taskId] : [taskId, round];
    return this.#db
      .prepare<
        Array<string | number>,
        { round: number; device_id: string; chunks: number; total: number; first_at: number }
      >(
        `SELECT c.round, c.device_id, COUNT(*) AS chunks, MAX(c.total) AS total, MIN(c.at) AS first_at
         FROM fl_chunks c
         WHERE c.task_id = ? ${where}
           AND NOT EXISTS (SELECT 1 FROM fl_updates u
                           WHERE u.task_id = c.task_id AND u.round = c.round AND u.device_id = c.device_id)
         GROUP BY c.round, c.device_id
         ORDER BY first_at, c.device_id`,
      )
      .all(...args)
      .map((r) => ({
        round: r.round,
        deviceId: r.device_id,
        chunks: r.chunks,
        total: r.total,
        firstAt: r.first_at,
      }));
  }

  async putFlUpdate(u: FlUpdateRecord): Promise<boolean> {
    const result = this.#db
      .prepare(
        `INSERT OR IGNORE INTO fl_updates (task_id, round, device_id, status, reason, applied_in, at)
         VALUES (?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(u.taskId, u.round, u.deviceId, u.status, u.reason, u.appliedIn, u.at);
    return result.changes > 0;
  }

  async listFlUpdates(taskId: string, round?: number): Promise<FlUpdateRecord[]> {
    const sql =
      round === undefined
        ? 'SELECT * FROM fl_updates WHERE task_id = ? ORDER BY round, device_id'
        : 'SELECT * FROM fl_updates WHERE task_id = ? AND round = ? ORDER BY device_id';
    const args: Array<string | number> = round === undefined ? [taskId] : [taskId, round];
    return this.#db
      .prepare<Array<string | number>, UpdateRow>(sql)
      .all(...args)
      .map(toUpdate);
  }

  async putFlEval(e: FlEvalRecord): Promise<void> {
    this.#db
      .prepare(
        `INSERT OR IGNORE INTO fl_evals (task_id, round, device_id, examples, loss, accuracy)
         VALUES (?, ?, ?, ?, ?, ?)`,
      )
      .run(e.taskId, e.round, e.deviceId, e.examples, e.loss, e.accuracy);
  }

  async listFlEvals(taskId: string, round: number): Promise<FlEvalRecord[]> {
    return this.#db
      .prepare<[string, number], { device_id: string; examples: number; loss: number; accuracy: number }>(
        'SELECT device_id, examples, loss, accuracy FROM fl_evals WHERE task_id = ? AND round = ? ORDER BY device_id',
      )
      .all(taskId, round)
      .map((r) => ({
        taskId,
        round,
        deviceId: r.device_id,
        examples: r.examples,
        loss: r.loss,
        accuracy: r.accuracy,
      }));
  }
}

/**
 * The federated methods as own properties, each checking first that the store is open
 * (`open` throws `HUB_STORE_UNAVAILABLE`), to mix into the SQLite hub store.
 */
export function sqliteFederatedStore(db: Database, open: () => unknown): FederatedStore {
  const impl = new SqliteFederated(db);
  const guarded =
    <A extends unknown[], R>(fn: (...args: A) => Promise<R>) =>
    (...args: A): Promise<R> => {
      open();
      return fn.apply(impl, args);
    };
  return {
    createFlTask: guarded(impl.createFlTask),
    getFlTask: guarded(impl.getFlTask),
    listFlTasks: guarded(impl.listFlTasks),
    updateFlTask: guarded(impl.updateFlTask),
    getFlWeights: guarded(impl.getFlWeights),
    openFlRound: guarded(impl.openFlRound),
    getFlRound: guarded(impl.getFlRound),
    listFlRounds: guarded(impl.listFlRounds),
    closeFlRound: guarded(impl.closeFlRound),
    putFlChunk: guarded(impl.putFlChunk),
    getFlChunks: guarded(impl.getFlChunks),
    listFlPending: guarded(impl.listFlPending),
    putFlUpdate: guarded(impl.putFlUpdate),
    listFlUpdates: guarded(impl.listFlUpdates),
    putFlEval: guarded(impl.putFlEval),
    listFlEvals: guarded(impl.listFlEvals),
  };
}
