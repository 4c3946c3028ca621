import { copyFileSync, existsSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { AGENT_DB_FILE } from '../store/database.js';
import { type SalvageReport, salvageInto } from './store-salvage.js';

export type { SalvageReport } from './store-salvage.js';

/** The schema version (`user_version`) of an agent database file. */
export function schemaVersion(file: string): number {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    return Number(db.pragma('user_version', { simple: true }));
  } finally {
    db.close();
  }
}

/**
 * The backup of the agent's store taken before a new release first starts. A new release may
 * migrate the store to a schema the previous one refuses to open; reverting then restores the
 * backup, carrying over what the new release queued, acked and counted meanwhile
 * ({@link salvageInto}). Without a migration the store is kept as it is.
 */
export class StoreBackup {
  readonly #db: string;

  constructor(
    dataDir: string,
    readonly file: string,
  ) {
    this.#db = join(dataDir, AGENT_DB_FILE);
  }

  /**
   * Takes a consistent copy (`VACUUM INTO`, safe while an agent runs) and returns its schema
   * version; without a store yet there is nothing to back up (undefined).
   */
  take(): number | undefined {
    if (!existsSync(this.#db)) return undefined;
    rmSync(this.file, { force: true });
    const tmp = `${this.file}.tmp`;
    rmSync(tmp, { force: true });
    const db = new Database(this.#db, { fileMustExist: true });
    try {
      db.prepare('VACUUM INTO ?').run(tmp);
    } finally {
      db.close();
    }
    renameSync(tmp, this.file);
    return schemaVersion(this.file);
  }

  /**
   * Restores the backup when the store's schema is newer than the backup's (a migration
   * ran): the events the new release queued and its acks are carried into the restored copy
   * first (see {@link salvageInto}); returns what was carried and what could not be, or
   * undefined when nothing was restored. The agent must not be running.
   */
  restoreIfMigrated(): SalvageReport | undefined {
    if (!existsSync(this.file) || !existsSync(this.#db)) return undefined;
    if (schemaVersion(this.#db) <= schemaVersion(this.file)) return undefined;
    const tmp = `${this.#db}.restore`;
    copyFileSync(this.file, tmp);
    // Read the migrated store, WAL included, before its WAL is removed.
    const report = salvageInto(tmp, this.#db);
    for (const suffix of ['-wal', '-shm']) rmSync(`${this.#db}${suffix}`, { force: true });
    for (const suffix of ['-wal', '-shm', '-journal']) rmSync(`${tmp}${suffix}`, { force: true });
    renameSync(tmp, this.#db);
    return report;
  }
}
