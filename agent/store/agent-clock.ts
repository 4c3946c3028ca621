import { performance } from 'node:perf_hooks';
import type Database from 'better-sqlite3';
import { LANES } from '../../shared/index.js';

/** A monotonic time source in ms (`performance.now()` by default); injectable for tests. */
export type MonotonicSource = () => number;

/** How often {@link AgentClock.persistIfDue} writes the clock, ms. */
export const CLOCK_PERSIST_EVERY_MS = 1000;

/**
 * The agent's own clock for TTLs: milliseconds of agent running time over the
 * store's whole life. It only moves forward: it is a persisted offset plus the elapsed time
 * of a monotonic source, so wall-clock jumps (NTP, a dead RTC battery, a user) neither
 * expire events early nor keep them forever. Time while the agent is stopped does not count
 * — a device switched off for a week keeps its queue (conservative: nothing is dropped on
 * the strength of a clock nobody can trust). On open it resumes from the larger of the
 * persisted value and the newest event's stamp, so even a lost write cannot move it back.
 */
export class AgentClock {
  readonly #mono: MonotonicSource;
  readonly #save: Database.Statement<[string]>;
  readonly #base: number;
  readonly #start: number;
  #last: number;
  #persisted: number;

  constructor(db: Database.Database, mono: MonotonicSource = () => performance.now()) {
    this.#mono = mono;
    this.#save = db.prepare("UPDATE meta SET value = ? WHERE key = 'clock_ms'");
    const saved = db.prepare("SELECT value FROM meta WHERE key = 'clock_ms'").get() as
      | { value: string }
      | undefined;
    const newest = db.prepare<[string], { clock_ms: number }>(
      'SELECT clock_ms FROM outbox WHERE lane = ? ORDER BY seq DESC LIMIT 1',
    );
    let base = Number(saved?.value ?? 0);
    for (const lane of LANES) base = Math.max(base, newest.get(lane)?.clock_ms ?? 0);
    this.#base = Number.isFinite(base) ? base : 0;
    this.#start = mono();
    this.#last = this.#base;
    this.#persisted = this.#base;
  }

  /** Agent time now, integer ms; never less than any value returned before. */
  now(): number {
    const elapsed = Math.floor(this.#mono() - this.#start);
    this.#last = Math.max(this.#last, this.#base + Math.max(0, elapsed));
    return this.#last;
  }

  /** Writes the clock to the store (in the caller's transaction, if any). */
  persist(): void {
    const now = this.now();
    this.#save.run(String(now));
    this.#persisted = now;
  }

  /** {@link persist} when the last write is at least {@link CLOCK_PERSIST_EVERY_MS} old. */
  persistIfDue(): void {
    if (this.now() - this.#persisted >= CLOCK_PERSIST_EVERY_MS) this.persist();
  }
}
