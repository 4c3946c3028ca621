import { resolve } from 'node:path';
import type { Database, Statement } from 'better-sqlite3';
import { OutpostError } from '../../../shared/index.js';
import {
  type Column,
  type Dialect,
  placeholders,
  type Sql,
  type SqlDatabase,
  type SqlValue,
} from './seam.js';

/** SQLite's spellings (better-sqlite3; one connection, one writer). */
export const SQLITE_DIALECT: Dialect = {
  name: 'sqlite',
  forUpdate: '',
  greatest: (a, b) => `MAX(${a}, ${b})`,
  isUniqueViolation: (err) => {
    const code = (err as { code?: unknown }).code;
    return code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || code === 'SQLITE_CONSTRAINT_UNIQUE';
  },
  jsonField: (column, key) => `json_extract(${column}, '$.${key}')`,
  advisoryLock: undefined,
};

/** Prepared statements kept per SQL text; `IN` lists of many lengths stay bounded. */
const MAX_CACHED_STATEMENTS = 500;

/** The values as better-sqlite3 binds them: booleans as 0/1 (copied only when there is one). */
function bind(params: readonly SqlValue[]): readonly unknown[] {
  for (const value of params) {
    if (typeof value === 'boolean') return params.map((v) => (typeof v === 'boolean' ? (v ? 1 : 0) : v));
  }
  return params;
}

/**
 * The turn to use one database file, shared by this process's connections on it: held by
 * an open transaction, handed to the waiters in arrival order when it ends.
 */
class Gate {
  private busy = false;
  private readonly waiting: Array<() => void> = [];
  /** Connections of this process on the file. */
  users = 0;

  /** True while a transaction holds the turn. */
  get held(): boolean {
    return this.busy;
  }

  /** Takes the turn: at once (undefined) when it is free, else a promise of it. */
  take(): Promise<void> | undefined {
    if (!this.busy) {
      this.busy = true;
      return undefined;
    }
    return new Promise<void>((resolve) => this.waiting.push(resolve));
  }

  /** Hands the turn to the next waiter, or frees it. */
  give(): void {
    const next = this.waiting.shift();
    if (next === undefined) this.busy = false;
    else next();
  }
}

const gates = new Map<string, Gate>();

const insertTexts = new WeakMap<readonly Column[], Map<string, string>>();

/** `INSERT INTO table (…) VALUES (?, …) conflict`, built once per column list. */
function insertSql(table: string, columns: readonly Column[], conflict: string): string {
  let byTail = insertTexts.get(columns);
  if (byTail === undefined) {
    byTail = new Map();
    insertTexts.set(columns, byTail);
  }
  const tail = `${table}\u0000${conflict}`;
  let text = byTail.get(tail);
  if (text === undefined) {
    const names = columns.map(([name]) => name).join(', ');
    text = `INSERT INTO ${table} (${names}) VALUES ${placeholders(columns.length)} ${conflict}`;
    byTail.set(tail, text);
  }
  return text;
}

/**
 * {@link SqlDatabase} over one better-sqlite3 connection. Statements run synchronously, so
 * a call made while no transaction is open completes in the same tick, as before the seam.
 * A transaction (`BEGIN IMMEDIATE` … `COMMIT`) may await between its statements; calls from
 * outside wait until it ends, so they never land inside it. Connections of this process on
 * the same file share that wait: SQLite's own lock wait (`busy_timeout`) blocks the thread,
 * so it would never see a transaction that is waiting for its turn in the event loop end.
 * Other processes wait on SQLite's lock, as before.
 */
export class SqliteDatabase implements SqlDatabase {
  readonly dialect = SQLITE_DIALECT;
  private readonly statements = new Map<string, Statement>();
  private readonly file: string;
  private readonly gate: Gate;
  /** The handle a transaction's body gets: runs at once, joins nested `tx` calls. */
  private readonly inTx: Sql;

  constructor(readonly db: Database) {
    this.file = db.memory ? `:memory:${Math.random()}` : resolve(db.name);
    this.gate = gates.get(this.file) ?? new Gate();
    this.gate.users++;
    gates.set(this.file, this.gate);
    this.inTx = {
      dialect: SQLITE_DIALECT,
      all: async (sql, params = []) => this.prepare(sql).all(...bind(params)) as never,
      get: async (sql, params = []) => this.prepare(sql).get(...bind(params)) as never,
      run: async (sql, params = []) => this.prepare(sql).run(...bind(params)).changes,
      insertMany: async (table, columns, rows, conflict = '') =>
        this.insertRows(table, columns, rows, conflict),
      tx: (fn) => fn(this.inTx),
    };
  }

  private prepare(sql: string): Statement {
    if (!this.db.open) throw new OutpostError('HUB_STORE_UNAVAILABLE', 'hub store is closed');
    let statement = this.statements.get(sql);
    if (statement === undefined) {
      if (this.statements.size >= MAX_CACHED_STATEMENTS) this.statements.clear();
      statement = this.db.prepare(sql);
      this.statements.set(sql, statement);
    }
    return statement;
  }

  private insertRows(
    table: string,
    columns: readonly Column[],
    rows: ReadonlyArray<readonly SqlValue[]>,
    conflict: string,
  ): void {
    const statement = this.prepare(insertSql(table, columns, conflict));
    for (const row of rows) statement.run(...bind(row));
  }

  /** Runs `statement` now, or in its turn after the open transaction (a call never joins it). */
  private async inTurn<T>(statement: () => T): Promise<T> {
    if (!this.gate.held) return statement();
    await this.gate.take();
    try {
      return statement();
    } finally {
      this.gate.give();
    }
  }

  all<R>(sql: string, params: readonly SqlValue[] = []): Promise<R[]> {
    return this.inTurn(() => this.prepare(sql).all(...bind(params)) as R[]);
  }

  get<R>(sql: string, params: readonly SqlValue[] = []): Promise<R | undefined> {
    return this.inTurn(() => this.prepare(sql).get(...bind(params)) as R | undefined);
  }

  run(sql: string, params: readonly SqlValue[] = []): Promise<number> {
    return this.inTurn(() => this.prepare(sql).run(...bind(params)).changes);
  }

  async insertMany(
    table: string,
    columns: readonly Column[],
    rows: ReadonlyArray<readonly SqlValue[]>,
    conflict = '',
  ): Promise<void> {
    await this.tx(async () => this.insertRows(table, columns, rows, conflict));
  }

  async tx<T>(fn: (q: Sql) => Promise<T>): Promise<T> {
    const turn = this.gate.take();
    if (turn !== undefined) await turn;
    try {
      this.prepare('BEGIN IMMEDIATE').run();
      try {
        const result = await fn(this.inTx);
        this.prepare('COMMIT').run();
        return result;
      } catch (err) {
        if (this.db.inTransaction) this.db.exec('ROLLBACK');
        throw err;
      }
    } finally {
      this.gate.give();
    }
  }

  async close(): Promise<void> {
    if (!this.db.open) return;
    this.db.close();
    if (--this.gate.users === 0) gates.delete(this.file);
  }
}
