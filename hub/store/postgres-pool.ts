import pg from 'pg';
import { OutpostError } from '../../shared/index.js';

/** Anything that runs a parameterised query: the pool or a client inside a transaction. */
export interface Queryable {
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(
    text: string,
    values?: unknown[],
  ): Promise<pg.QueryResult<R>>;
}

/** OID of `int8`/`BIGINT`: hub times and seqs are milliseconds and counters, safe as numbers. */
const INT8_OID = 20;

/**
 * Type parsers of this pool only (the global `pg.types` stays untouched): `BIGINT` and
 * `COUNT(*)` come back as JavaScript numbers. Times in ms and seqs stay far below 2^53.
 */
const types = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === INT8_OID) return (value: string) => Number(value);
    return pg.types.getTypeParser(oid, format);
  },
};

/** Options of {@link PgPool}. */
export interface PgPoolOptions {
  /** `postgres://user@host:port/db`. */
  url: string;
  /**
   * Schema the hub's tables live in (created when missing); default `public`. Tests use a
   * fresh one each, so that runs never see each other's rows.
   */
  schema?: string | undefined;
  /** Most connections of this hub; default 10. */
  max?: number | undefined;
}

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/**
 * A `pg.Pool` with the hub's conventions: every connection's `search_path` is the hub's
 * schema, one transaction per store operation ({@link PgPool.tx}), and after `close()`
 * every call rejects with `HUB_STORE_UNAVAILABLE`.
 */
export class PgPool implements Queryable {
  readonly schema: string;
  private readonly pool: pg.Pool;
  private closed = false;

  constructor(options: PgPoolOptions) {
    this.schema = options.schema ?? 'public';
    if (!SCHEMA_NAME.test(this.schema)) {
      throw new OutpostError('HUB_CONFIG_INVALID', `store schema "${this.schema}" must match ${SCHEMA_NAME}`);
    }
    this.pool = new pg.Pool({
      connectionString: options.url,
      max: options.max ?? 10,
      types,
      options: `-c search_path=${this.schema}`,
      connectionTimeoutMillis: 10_000,
    });
    // An idle client that loses its server must not crash the process; the next query fails.
    this.pool.on('error', () => undefined);
  }

  private check(): void {
    if (this.closed) throw new OutpostError('HUB_STORE_UNAVAILABLE', 'hub store is closed');
  }

  async query<R extends pg.QueryResultRow = pg.QueryResultRow>(
    text: string,
    values?: unknown[],
  ): Promise<pg.QueryResult<R>> {
    this.check();
    return this.pool.query<R>(text, values);
  }

  /**
   * Runs `fn` in one transaction (`READ COMMITTED`; callers lock what they read with
   * `FOR UPDATE`): commits when it resolves, rolls back when it throws.
   */
  async tx<T>(fn: (client: Queryable) => Promise<T>): Promise<T> {
    this.check();
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      const result = await fn(client);
      await client.query('COMMIT');
      return result;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
  }

  /** Ends every connection. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.end();
  }
}
