import type Database from 'better-sqlite3';
import { type Durability, openDatabase, readMeta } from './database.js';
import { DesiredStore } from './desired-store.js';
import { OutboxStore } from './outbox-store.js';

export type { Durability } from './database.js';
export { AGENT_DB_FILE } from './database.js';
export type { DesiredRecord } from './desired-store.js';
export { DesiredStore } from './desired-store.js';
export type { LaneCounters, OutboxBatch } from './outbox-store.js';
export { envelopeBytes, OutboxStore } from './outbox-store.js';

/** The agent's SQLite store: one file, its epoch, the outbox and the desired state. */
export interface AgentStore {
  /** Random id of this store, made by its first migration; never changes afterwards. */
  readonly epoch: string;
  readonly outbox: OutboxStore;
  readonly desired: DesiredStore;
  /** The open database, for the repositories of other components (inference, issue 3). */
  readonly db: Database.Database;
  /** Closes the database (idempotent). */
  close(): void;
}

/** Opens `{dataDir}/agent.db` (see {@link openDatabase}) and its repositories. */
export function openAgentStore(options: { dataDir: string; durability: Durability }): AgentStore {
  const db = openDatabase(options.dataDir, options.durability);
  try {
    const epoch = readMeta(db, 'epoch');
    if (epoch === undefined) throw new Error('agent store has no epoch');
    return {
      epoch,
      db,
      outbox: new OutboxStore(db, epoch),
      desired: new DesiredStore(db),
      close: () => {
        if (db.open) db.close();
      },
    };
  } catch (err) {
    db.close();
    throw err;
  }
}
