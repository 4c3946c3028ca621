import type Database from 'better-sqlite3';
import type { Lane } from '../../shared/index.js';
import { AgentClock, type MonotonicSource } from './agent-clock.js';
import { type Durability, openDatabase, readMeta } from './database.js';
import { DesiredStore } from './desired-store.js';
import { type LaneQuota, OutboxStore } from './outbox-store.js';

export type { MonotonicSource } from './agent-clock.js';
export { AgentClock } from './agent-clock.js';
export type { Durability } from './database.js';
export { AGENT_DB_FILE } from './database.js';
export type { DesiredRecord } from './desired-store.js';
export { DesiredStore } from './desired-store.js';
export type { LossRange, ResolveOutcome } from './loss-ledger.js';
export { LossLedger } from './loss-ledger.js';
export type { DropEvent } from './outbox-drops.js';
export type { AckOutcome, LaneCounters, LaneQuota, LaneState, OutboxBatch } from './outbox-store.js';
export { envelopeBytes, OutboxStore, UNLIMITED_LANE } from './outbox-store.js';

/** The agent's SQLite store: one file, its epoch, the outbox and the desired state. */
export interface AgentStore {
  /** Random id of this store, made by its first migration; never changes afterwards. */
  readonly epoch: string;
  readonly outbox: OutboxStore;
  readonly desired: DesiredStore;
  /** The agent's persisted monotonic clock (TTLs). */
  readonly clock: AgentClock;
  /** The open database, for the repositories of other components (inference). */
  readonly db: Database.Database;
  /** Closes the database (idempotent). */
  close(): void;
}

/** Options of {@link openAgentStore}. */
export interface AgentStoreOptions {
  dataDir: string;
  durability: Durability;
  /** Quota and TTL per lane; a lane left out has none. */
  quotas?: Partial<Record<Lane, LaneQuota>> | undefined;
  /** Monotonic time source of the agent clock; `performance.now` by default. */
  monoNow?: MonotonicSource | undefined;
}

/** Opens `{dataDir}/agent.db` (see {@link openDatabase}) and its repositories. */
export function openAgentStore(options: AgentStoreOptions): AgentStore {
  const db = openDatabase(options.dataDir, options.durability);
  try {
    const epoch = readMeta(db, 'epoch');
    if (epoch === undefined) throw new Error('agent store has no epoch');
    const clock = new AgentClock(db, options.monoNow);
    return {
      epoch,
      db,
      outbox: new OutboxStore(db, epoch, { clock, quotas: options.quotas }),
      desired: new DesiredStore(db),
      clock,
      close: () => {
        if (!db.open) return;
        try {
          clock.persist();
        } catch {
          // Harmless: on open the clock resumes from the newest event's stamp at least.
        }
        db.close();
      },
    };
  } catch (err) {
    db.close();
    throw err;
  }
}
