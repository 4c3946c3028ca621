/**
 * The dialect seam of the hub store: every store area (devices, events, registry, …) is
 * written once against {@link Sql}, with `?` placeholders and SQL both backends accept; the
 * two implementations (`sqlite-db.ts`, `postgres-db.ts`) hold only what differs between
 * SQLite and PostgreSQL, named by {@link Dialect}.
 */

/** The SQL spellings and error codes that differ between the backends. */
export interface Dialect {
  readonly name: 'sqlite' | 'postgres';
  /** ` FOR UPDATE` on PostgreSQL (row locks across replicas); empty on SQLite (one writer). */
  readonly forUpdate: string;
  /** The larger of two expressions: `MAX(a, b)` on SQLite, `GREATEST(a, b)` on PostgreSQL. */
  greatest(a: string, b: string): string;
  /** True for a primary-key or unique-constraint violation. */
  isUniqueViolation(err: unknown): boolean;
  /** The text of top-level field `key` of a JSON document in TEXT column `column`. */
  jsonField(column: string, key: string): string;
  /**
   * A statement that holds lock `key` (one bound parameter) until the transaction ends, so
   * replicas run that job one after the other; undefined where one writer is all there is.
   */
  readonly advisoryLock: string | undefined;
}

/** SQL types of the columns {@link Sql.insertMany} writes (PostgreSQL types its arrays). */
export type ColumnType = 'TEXT' | 'INTEGER' | 'BIGINT' | 'DOUBLE PRECISION';

/** A column and its type. */
export type Column = readonly [name: string, type: ColumnType];

/** A value bound to a `?`: booleans become 0/1 on SQLite, Buffers are BLOB/BYTEA. */
export type SqlValue = string | number | boolean | null | Buffer | Uint8Array;

/** Something that runs statements: the database or the transaction `Sql.tx` hands out. */
export interface Sql {
  readonly dialect: Dialect;
  /** Every row of a query. */
  all<R>(sql: string, params?: readonly SqlValue[]): Promise<R[]>;
  /** The first row of a query, or undefined. */
  get<R>(sql: string, params?: readonly SqlValue[]): Promise<R | undefined>;
  /** Runs a statement; resolves to the number of rows it changed. */
  run(sql: string, params?: readonly SqlValue[]): Promise<number>;
  /**
   * Inserts `rows` (values in `columns` order) into `table`, each followed by `conflict` (an
   * `ON CONFLICT …` clause, or empty): a prepared statement per row on SQLite, one statement
   * over typed arrays (`unnest`) on PostgreSQL, one round trip. Call it inside a transaction.
   */
  insertMany(
    table: string,
    columns: readonly Column[],
    rows: ReadonlyArray<readonly SqlValue[]>,
    conflict?: string,
  ): Promise<void>;
  /**
   * Runs `fn` in one transaction: commits when it resolves, rolls back when it throws.
   * Inside, use only the `Sql` it receives. On SQLite other calls wait until it ends (one
   * connection); on PostgreSQL it holds one pooled connection (`READ COMMITTED`, callers
   * lock what they read with {@link Dialect.forUpdate}). A `tx` inside a `tx` joins it.
   */
  tx<T>(fn: (q: Sql) => Promise<T>): Promise<T>;
}

/** A database of the hub store: a {@link Sql} that can be closed. */
export interface SqlDatabase extends Sql {
  /** Closes the backend; later calls reject with `HUB_STORE_UNAVAILABLE`. Idempotent. */
  close(): Promise<void>;
}

/** `(?, ?, ?)` for `count` values, for `IN` lists and `VALUES` tuples. */
export function placeholders(count: number): string {
  return `(${Array.from({ length: count }, () => '?').join(', ')})`;
}

/** Most values one `IN` list binds (below SQLite's 32766 and PostgreSQL's 65535 parameters). */
const IN_CHUNK = 10_000;

/** `values` in slices small enough for one `IN` list each. */
export function chunks<T>(values: readonly T[], size = IN_CHUNK): T[][] {
  const out: T[][] = [];
  for (let start = 0; start < values.length; start += size) out.push(values.slice(start, start + size));
  return out;
}
