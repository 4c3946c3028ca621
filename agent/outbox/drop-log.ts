import type { Logger } from 'pino';
import type { Lane, LossReason } from '../../shared/index.js';
import type { DropEvent } from '../store/index.js';

/** Drops of one lane and reason since the last log line. */
interface Pending {
  events: number;
  bytes: number;
  lost: number;
  unconfirmed: number;
  through: number;
}

/** Least time between two warnings for the same lane and reason, ms. */
export const DROP_LOG_EVERY_MS = 10_000;

/**
 * Logs every drop at `warn` (docs/architecture.md "Conventions": warn for every drop) without flooding:
 * the first drop of a lane and reason is logged at once, later ones are summed and logged
 * at most every {@link DROP_LOG_EVERY_MS} ms, and {@link flush} (on close) logs the rest.
 */
export class DropLog {
  readonly #log: Logger;
  readonly #pending = new Map<string, Pending>();
  readonly #lastAt = new Map<string, number>();
  #timer: NodeJS.Timeout | undefined;

  constructor(log: Logger) {
    this.#log = log;
  }

  /** Records a drop. */
  record(drop: DropEvent): void {
    const key = `${drop.lane}/${drop.reason}`;
    const sum = this.#pending.get(key) ?? { events: 0, bytes: 0, lost: 0, unconfirmed: 0, through: 0 };
    sum.events += drop.count;
    sum.bytes += drop.bytes;
    sum.lost += drop.lost;
    sum.unconfirmed += drop.unconfirmed;
    sum.through = Math.max(sum.through, drop.through);
    this.#pending.set(key, sum);
    const last = this.#lastAt.get(key);
    if (last === undefined || Date.now() - last >= DROP_LOG_EVERY_MS) this.#emit(key);
    else this.#timer ??= setTimeout(() => this.flush(), DROP_LOG_EVERY_MS).unref();
  }

  /** Logs every drop not logged yet. */
  flush(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    for (const key of [...this.#pending.keys()]) this.#emit(key);
  }

  #emit(key: string): void {
    const sum = this.#pending.get(key);
    if (!sum) return;
    this.#pending.delete(key);
    this.#lastAt.set(key, Date.now());
    const [lane, reason] = key.split('/') as [Lane, LossReason];
    const why = reason === 'quota' ? 'lane full (drop-oldest)' : 'older than the lane TTL';
    this.#log.warn(
      { lane, reason, ...sum },
      `dropped ${sum.events} ${lane} events (${why}); booked in the loss ledger`,
    );
  }
}
