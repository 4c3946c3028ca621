import type { PgPool } from './postgres-pool.js';

/** Key of the advisory lock that serialises migrations of concurrent replicas. */
const MIGRATION_LOCK = 0x6f757470; // "outp"

/**
 * Creates the schema when missing and applies the migrations not yet recorded in
 * `outpost_migrations` (version = index + 1), each in its own transaction together with its
 * record. Replicas starting at once serialise on a transaction-level advisory lock, so each
 * migration runs exactly once. Returns how many were applied.
 */
export async function runPostgresMigrations(pool: PgPool, migrations: readonly string[]): Promise<number> {
  await pool.tx(async (c) => {
    // Concurrent `IF NOT EXISTS` creations can still collide in the catalog: lock first.
    await c.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
    await c.query(`CREATE SCHEMA IF NOT EXISTS ${pool.schema}`);
    await c.query(
      `CREATE TABLE IF NOT EXISTS outpost_migrations (
         version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())`,
    );
  });
  let applied = 0;
  for (let i = 0; i < migrations.length; i++) {
    const version = i + 1;
    const ran = await pool.tx(async (c) => {
      await c.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
      const done = await c.query('SELECT 1 FROM outpost_migrations WHERE version = $1', [version]);
      if (done.rowCount !== 0) return false;
      await c.query(migrations[i] as string);
      await c.query('INSERT INTO outpost_migrations (version) VALUES ($1)', [version]);
      return true;
    });
    if (ran) applied++;
  }
  return applied;
}
