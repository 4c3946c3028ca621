import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { ensurePrivateDir, ensurePrivateFile, runMigrations } from '../../shared/index.js';
import { SqliteDatabase } from './sql/sqlite-db.js';
import { HUB_SQLITE_MIGRATIONS } from './sqlite-schema.js';
import { assembleHubStore } from './store.js';
import type { HubStore } from './types.js';

/** File name of the hub database inside the data dir. */
export const HUB_DB_FILE = 'hub.db';

/**
 * Opens (creating when needed) `{dataDir}/hub.db` in WAL mode with `synchronous = FULL`:
 * an ack promises the events are on disk, so a commit must survive power loss too, not
 * only a crash of the process. Runs the numbered migrations.
 */
export function openSqliteHubStore(dataDir: string): HubStore {
  // Owner-only: the store holds device secret hashes and everything devices reported.
  ensurePrivateDir(dataDir);
  ensurePrivateFile(join(dataDir, HUB_DB_FILE));
  const db = new BetterSqlite3(join(dataDir, HUB_DB_FILE));
  try {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.pragma('foreign_keys = ON');
    db.pragma('busy_timeout = 5000');
    runMigrations(db, HUB_SQLITE_MIGRATIONS);
    return assembleHubStore(new SqliteDatabase(db));
  } catch (err) {
    db.close();
    throw err;
  }
}
