import type Database from 'better-sqlite3';

/** What the device did in one round. */
export interface RoundRecord {
  taskId: string;
  round: number;
  /** `submitted`: the update (and evaluation) are in the outbox; `skipped`: nothing to train on. */
  status: 'submitted' | 'skipped';
  /** JSON details: examples, norm, chunks, or why it was skipped. */
  detail: Record<string, unknown>;
  at: number;
}

interface Row {
  task_id: string;
  round: number;
  status: RoundRecord['status'];
  detail: string;
  at: number;
}

/**
 * The device's memory of federated rounds, in the agent store (`fl_rounds`).
 * `mark` runs inside the transaction that enqueues the update, so "submitted" and the
 * update's chunks are committed together: a restart never trains a round twice, nor loses one.
 */
export class RoundMemory {
  readonly #get: Database.Statement<[string, number], Row>;
  readonly #put: Database.Statement<[string, number, string, string, number]>;
  readonly #recent: Database.Statement<[number], Row>;

  constructor(db: Database.Database) {
    this.#get = db.prepare('SELECT * FROM fl_rounds WHERE task_id = ? AND round = ?');
    this.#put = db.prepare(
      'INSERT OR REPLACE INTO fl_rounds (task_id, round, status, detail, at) VALUES (?, ?, ?, ?, ?)',
    );
    this.#recent = db.prepare('SELECT * FROM fl_rounds ORDER BY at DESC, round DESC LIMIT ?');
  }

  get(taskId: string, round: number): RoundRecord | undefined {
    const row = this.#get.get(taskId, round);
    return row === undefined ? undefined : toRecord(row);
  }

  mark(record: RoundRecord): void {
    this.#put.run(record.taskId, record.round, record.status, JSON.stringify(record.detail), record.at);
  }

  /** The latest records, newest first. */
  recent(limit: number): RoundRecord[] {
    return this.#recent.all(limit).map(toRecord);
  }
}

function toRecord(row: Row): RoundRecord {
  return {
    taskId: row.task_id,
    round: row.round,
    status: row.status,
    detail: JSON.parse(row.detail) as Record<string, unknown>,
    at: row.at,
  };
}
