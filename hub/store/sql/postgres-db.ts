import type { PgPool, Queryable } from '../postgres-pool.js';
import type { Dialect, Sql, SqlDatabase, SqlValue } from './seam.js';

/** PostgreSQL's `unique_violation`. */
const UNIQUE_VIOLATION = '23505';

/** PostgreSQL's spellings (several replicas may share the database). */
export const POSTGRES_DIALECT: Dialect = {
  name: 'postgres',
  forUpdate: ' FOR UPDATE',
  greatest: (a, b) => `GREATEST(${a}, ${b})`,
  isUniqueViolation: (err) => (err as { code?: unknown }).code === UNIQUE_VIOLATION,
  jsonField: (column, key) => `(${column}::jsonb ->> '${key}')`,
  advisoryLock: 'SELECT pg_advisory_xact_lock(?)',
};

const converted = new Map<string, string>();

/** `?` placeholders to `$1 … $n` (the areas' SQL never holds a `?` in a literal). */
function numbered(sql: string): string {
  let out = converted.get(sql);
  if (out === undefined) {
    let n = 0;
    out = sql.replace(/\?/g, () => `$${++n}`);
    if (converted.size >= 1000) converted.clear();
    converted.set(sql, out);
  }
  return out;
}

/** Runs statements on the pool, or on one client inside a transaction. */
class PostgresSql implements Sql {
  readonly dialect = POSTGRES_DIALECT;

  constructor(
    private readonly q: Queryable,
    private readonly begin: <T>(fn: (q: Sql) => Promise<T>) => Promise<T>,
  ) {}

  async all<R>(sql: string, params: readonly SqlValue[] = []): Promise<R[]> {
    return (await this.q.query(numbered(sql), params as unknown[])).rows as R[];
  }

  async get<R>(sql: string, params: readonly SqlValue[] = []): Promise<R | undefined> {
    return (await this.all<R>(sql, params))[0];
  }

  async run(sql: string, params: readonly SqlValue[] = []): Promise<number> {
    return (await this.q.query(numbered(sql), params as unknown[])).rowCount ?? 0;
  }

  readonly insertMany: Sql['insertMany'] = async (table, columns, rows, conflict = '') => {
    if (rows.length === 0) return;
    const arrays = columns.map(([, type]) => `?::${type}[]`).join(', ');
    await this.q.query(
      numbered(
        `INSERT INTO ${table} (${columns.map(([name]) => name).join(', ')}) SELECT * FROM unnest(${arrays}) ${conflict}`,
      ),
      columns.map((_, i) => rows.map((row) => row[i])),
    );
  };

  tx<T>(fn: (q: Sql) => Promise<T>): Promise<T> {
    return this.begin(fn);
  }
}

/**
 * {@link SqlDatabase} over a {@link PgPool}; `pool` stays reachable for the lease module
 * (`hub/coordination`), which shares the store's connections.
 */
export class PostgresDatabase extends PostgresSql implements SqlDatabase {
  constructor(readonly pool: PgPool) {
    super(pool, (fn) =>
      pool.tx((client) => {
        const inTx: Sql = new PostgresSql(client, (inner) => inner(inTx));
        return fn(inTx);
      }),
    );
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}
