import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { type HubStore, openPostgresHubStore, openSqliteHubStore } from '../../hub/index.js';

/** Database the PostgreSQL runs use (a fresh schema each, dropped afterwards). */
export const BENCH_PG_URL = process.env.OUTPOST_BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** Runs `fn` on a hub store in a fresh SQLite directory, removed afterwards. */
export async function withSqliteStore<T>(fn: (store: HubStore) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'outpost-bench-store-'));
  const store = openSqliteHubStore(dir);
  try {
    return await fn(store);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Runs `fn` on a hub store in a fresh PostgreSQL schema of {@link BENCH_PG_URL}, dropped
 * afterwards. Rejects with `HUB_STORE_UNAVAILABLE` when the server cannot be reached.
 */
export async function withPostgresStore<T>(fn: (store: HubStore) => Promise<T>): Promise<T> {
  const schema = `outpost_bench_${randomBytes(4).toString('hex')}`;
  const store = await openPostgresHubStore({ url: BENCH_PG_URL, schema, max: 4 });
  try {
    return await fn(store);
  } finally {
    await store.close();
    const client = new pg.Client({ connectionString: BENCH_PG_URL });
    await client.connect();
    await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await client.end();
  }
}
