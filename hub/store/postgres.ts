import { OutpostError } from '../../shared/index.js';
import { runPostgresMigrations } from './postgres-migrate.js';
import { PgPool, type PgPoolOptions } from './postgres-pool.js';
import { HUB_POSTGRES_MIGRATIONS } from './postgres-schema.js';
import { PostgresDatabase } from './sql/postgres-db.js';
import { assembleHubStore } from './store.js';
import type { HubStore } from './types.js';

/**
 * Opens the PostgreSQL hub store: connects, creates the schema when
 * missing and runs the numbered migrations. Several hub replicas may share one database;
 * every operation is one transaction, ingest locks its high-water mark row.
 * A database that cannot be reached rejects with `HUB_STORE_UNAVAILABLE` naming the cause.
 */
export async function openPostgresHubStore(options: PgPoolOptions): Promise<PostgresHubStore> {
  const pool = new PgPool(options);
  try {
    await runPostgresMigrations(pool, HUB_POSTGRES_MIGRATIONS);
  } catch (err) {
    await pool.close().catch(() => undefined);
    if (err instanceof OutpostError) throw err;
    throw new OutpostError(
      'HUB_STORE_UNAVAILABLE',
      `cannot open the PostgreSQL store at ${redactUrl(options.url)}: ${(err as Error).message}`,
    );
  }
  return { ...assembleHubStore(new PostgresDatabase(pool)), pool };
}

/** The URL without its password, for messages and logs (credentials are never logged). */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password !== '') u.password = '***';
    return u.toString();
  } catch {
    return '(unparseable URL)';
  }
}

/** A {@link HubStore} on PostgreSQL; `pool` is exposed for the lease module (`hub/coordination`). */
export type PostgresHubStore = HubStore & { readonly pool: PgPool };

/** True for a store opened by {@link openPostgresHubStore}. */
export function isPostgresHubStore(store: HubStore): store is PostgresHubStore {
  return store.kind === 'postgres' && 'pool' in store;
}
