import { statfsSync } from 'node:fs';
import type Database from 'better-sqlite3';
import { OutpostError } from '../../shared/index.js';

/** Free space of the agent's data dir as the outbox sees it. */
export interface DiskSpace {
  dataDir: string;
  /** Bytes the filesystem still has for the agent (`statfs` available blocks). */
  freeBytes: number;
  /** Pages inside the store that deleted rows freed, which new rows reuse first. */
  reusableBytes: number;
  /** Free bytes kept for acks, deletions and the loss ledger (config `outbox.diskReserveBytes`). */
  reserveBytes: number;
}

/** How long a measured free-space figure is trusted while far from the reserve, ms. */
const RECHECK_MS = 250;

/**
 * Keeps the data dir's filesystem from filling with events: new events are refused with
 * `507 AGENT_STORAGE_FULL` (naming the data dir and the free bytes) while the free space,
 * counting the store's reusable pages, is under the reserve. The reserve is what acks,
 * deletions, the loss ledger and the drain's own writes need, so a returning link can always
 * shrink the queue and free space. SQLite running out anyway (another process filling the
 * disk) gives the same error instead of an internal one.
 */
export class DiskHeadroom {
  readonly #dataDir: string;
  readonly #reserveBytes: number;
  readonly #db: Database.Database;
  #measured: DiskSpace | undefined;
  #measuredAt = 0;

  constructor(options: { dataDir: string; reserveBytes: number; db: Database.Database }) {
    this.#dataDir = options.dataDir;
    this.#reserveBytes = options.reserveBytes;
    this.#db = options.db;
  }

  /** The data dir's free space now. */
  space(): DiskSpace {
    const fs = statfsSync(this.#dataDir);
    const pages = this.#db.pragma('freelist_count', { simple: true }) as number;
    const pageSize = this.#db.pragma('page_size', { simple: true }) as number;
    this.#measured = {
      dataDir: this.#dataDir,
      freeBytes: Number(fs.bavail) * Number(fs.bsize),
      reusableBytes: pages * pageSize,
      reserveBytes: this.#reserveBytes,
    };
    this.#measuredAt = performance.now();
    return this.#measured;
  }

  /** Throws `AGENT_STORAGE_FULL` when a new event would eat into the reserve. */
  check(): void {
    if (this.#reserveBytes === 0) return;
    const last = this.#measured;
    const fresh = performance.now() - this.#measuredAt < RECHECK_MS;
    // Far from the reserve, a recent figure will do; near it, every event measures.
    const space = last && fresh && available(last) > 4 * this.#reserveBytes ? last : this.space();
    if (available(space) < this.#reserveBytes) throw this.full(space);
  }

  /** The error of a full disk, with the figures. */
  full(space: DiskSpace = this.space()): OutpostError {
    return new OutpostError(
      'AGENT_STORAGE_FULL',
      `data dir ${space.dataDir} is full: ${space.freeBytes} bytes free (+${space.reusableBytes} reusable in the store), ` +
        `${space.reserveBytes} kept for acks and deletions; new events are refused until the queue drains`,
      { details: space },
    );
  }
}

function available(space: DiskSpace): number {
  return space.freeBytes + space.reusableBytes;
}

/** Whether `err` is SQLite's "database or disk is full". */
export function isDiskFull(err: unknown): boolean {
  return (err as { code?: unknown } | null)?.code === 'SQLITE_FULL';
}
