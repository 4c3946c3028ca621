/**
 * Numbered SQLite migrations tracked by `PRAGMA user_version` (docs/architecture.md "Storage"). Takes a
 * database handle by its shape so shared stays free of I/O dependencies.
 */
export interface MigratableDatabase {
  pragma(source: string, options: { simple: true }): unknown;
  exec(source: string): unknown;
  /** Wraps `fn` so that calling the result runs it in one transaction (better-sqlite3's shape). */
  transaction(fn: () => void): () => unknown;
}

/**
 * Applies `migrations[i]` (SQL) as version i+1, each in its own transaction, skipping those
 * already applied. Refuses a database newer than this code. Returns the final version.
 */
export function runMigrations(db: MigratableDatabase, migrations: readonly string[]): number {
  const current = Number(db.pragma('user_version', { simple: true }));
  if (current > migrations.length) {
    throw new Error(
      `database schema version ${current} is newer than this build knows (${migrations.length}); upgrade Outpost`,
    );
  }
  for (let version = current + 1; version <= migrations.length; version++) {
    const sql = migrations[version - 1] as string;
    db.transaction(() => {
      db.exec(sql);
      db.pragma(`user_version = ${version}`, { simple: true });
    })();
  }
  return migrations.length;
}
