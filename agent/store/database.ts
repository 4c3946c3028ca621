import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { ensurePrivateDir, ensurePrivateFile, runMigrations } from '../../shared/index.js';
import { agentMigrations } from './migrations.js';

/** `crash-safe`: WAL + synchronous=NORMAL. `power-safe`: WAL + synchronous=FULL. */
export type Durability = 'crash-safe' | 'power-safe';

/** File name of the agent store inside its data directory. */
export const AGENT_DB_FILE = 'agent.db';

/** A fresh store epoch: 16 random bytes as base64url (22 characters). */
export function newEpoch(): string {
  return randomBytes(16).toString('base64url');
}

/**
 * Opens (creating `dataDir` and the file when needed) `{dataDir}/agent.db` in WAL mode with
 * the durability's `synchronous` level and runs the numbered migrations.
 */
export function openDatabase(dataDir: string, durability: Durability): Database.Database {
  // Owner-only: the store holds the device's outbox, samples and delivery state.
  ensurePrivateDir(dataDir);
  ensurePrivateFile(join(dataDir, AGENT_DB_FILE));
  const db = new Database(join(dataDir, AGENT_DB_FILE));
  try {
    db.pragma('journal_mode = WAL');
    db.pragma(`synchronous = ${durability === 'power-safe' ? 'FULL' : 'NORMAL'}`);
    db.pragma('busy_timeout = 5000');
    runMigrations(db, agentMigrations(newEpoch(), Date.now()));
    return db;
  } catch (err) {
    db.close();
    throw err;
  }
}

/** Reads one value of the `meta` table. */
export function readMeta(db: Database.Database, key: string): string | undefined {
  const row = db.prepare('SELECT value FROM meta WHERE key = ?').get(key) as { value: string } | undefined;
  return row?.value;
}
