import type Database from 'better-sqlite3';
import {
  flatten,
  type SecAggClientState,
  shapesOf,
  type TensorShape,
  unflatten,
} from '../../federated/index.js';
import type { ModelWeights } from '../../federated/types.js';

/** The phases a device answers before the last one (`unmask` ends the round here). */
export type AnsweredPhase = 'advertise' | 'share' | 'mask';

/** What the device trained for a secure round, kept until it masks it. */
export interface TrainedInput {
  delta: ModelWeights;
  examples: number;
  norm: number;
  clipped: boolean;
  loss: number;
  accuracy: number;
}

/** A secure round in progress on this device, as stored. */
export interface SecAggRecord {
  taskId: string;
  round: number;
  /** The last phase answered (its message is in the outbox, or already sent). */
  phase: AnsweredPhase;
  client: SecAggClientState;
}

interface Row {
  task_id: string;
  round: number;
  phase: AnsweredPhase;
  client: string;
}

/**
 * The device's secure rounds in progress, in the agent store (`fl_secagg`): the protocol
 * client's state (secrets included) and the last phase answered, written in the transaction
 * that enqueues that phase's answer, plus the trained input until it is masked. So a
 * restarted agent resumes the round with the keys the hub already holds and answers each
 * phase once. The rows stay in the store's file only (owner-only, like the device secret).
 */
export class SecAggState {
  readonly #get: Database.Statement<[string, number], Row>;
  readonly #put: Database.Statement<[string, number, string, string, Buffer, string, string, number]>;
  readonly #advance: Database.Statement<[string, string, number, string, number]>;
  readonly #dropInput: Database.Statement<[string, number]>;
  readonly #input: Database.Statement<
    [string, number],
    { input: Buffer | null; shapes: string; figures: string }
  >;
  readonly #delete: Database.Statement<[string, number]>;
  readonly #others: Database.Statement<[string, number]>;
  readonly #all: Database.Statement<[]>;

  constructor(db: Database.Database) {
    this.#get = db.prepare(
      'SELECT task_id, round, phase, client FROM fl_secagg WHERE task_id = ? AND round = ?',
    );
    this.#put = db.prepare(
      `INSERT INTO fl_secagg (task_id, round, phase, client, input, shapes, figures, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    this.#advance = db.prepare(
      'UPDATE fl_secagg SET phase = ?, client = ?, updated_at = ? WHERE task_id = ? AND round = ?',
    );
    this.#dropInput = db.prepare('UPDATE fl_secagg SET input = NULL WHERE task_id = ? AND round = ?');
    this.#input = db.prepare('SELECT input, shapes, figures FROM fl_secagg WHERE task_id = ? AND round = ?');
    this.#delete = db.prepare('DELETE FROM fl_secagg WHERE task_id = ? AND round = ?');
    this.#others = db.prepare('DELETE FROM fl_secagg WHERE NOT (task_id = ? AND round = ?)');
    this.#all = db.prepare('DELETE FROM fl_secagg');
  }

  get(taskId: string, round: number): SecAggRecord | undefined {
    const row = this.#get.get(taskId, round);
    if (row === undefined) return undefined;
    return {
      taskId: row.task_id,
      round: row.round,
      phase: row.phase,
      client: JSON.parse(row.client) as SecAggClientState,
    };
  }

  /** Stores a round just advertised, with its trained input. */
  create(record: SecAggRecord, input: TrainedInput, at: number): void {
    const flat = flatten(input.delta);
    const { delta: _delta, ...figures } = input;
    this.#put.run(
      record.taskId,
      record.round,
      record.phase,
      JSON.stringify(record.client),
      Buffer.from(flat.buffer, flat.byteOffset, flat.byteLength),
      JSON.stringify(shapesOf(input.delta)),
      JSON.stringify(figures),
      at,
    );
  }

  /** Records the phase answered and the client's state after answering it. */
  advance(record: SecAggRecord, at: number): void {
    this.#advance.run(record.phase, JSON.stringify(record.client), at, record.taskId, record.round);
    // Once masked, the plain delta is of no more use: it leaves the row.
    if (record.phase === 'mask') this.#dropInput.run(record.taskId, record.round);
  }

  /** The trained input of a round not yet masked. */
  input(taskId: string, round: number): TrainedInput | undefined {
    const row = this.#input.get(taskId, round);
    if (row?.input == null) return undefined;
    const bytes = row.input;
    // A copy: SQLite's buffer need not be 4-byte aligned.
    const flat = new Float32Array(new Uint8Array(bytes).buffer, 0, bytes.byteLength / 4);
    const delta = unflatten(flat, JSON.parse(row.shapes) as TensorShape[]);
    return { delta, ...(JSON.parse(row.figures) as Omit<TrainedInput, 'delta'>) };
  }

  delete(taskId: string, round: number): void {
    this.#delete.run(taskId, round);
  }

  /** Deletes every round but `keep`'s (all when undefined): finished or superseded rounds. */
  prune(keep: { taskId: string; round: number } | undefined): number {
    return (keep === undefined ? this.#all.run() : this.#others.run(keep.taskId, keep.round)).changes;
  }
}
