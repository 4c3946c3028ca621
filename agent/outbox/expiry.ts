import type { Logger } from 'pino';
import { LANES } from '../../shared/index.js';
import type { AgentClock, DropEvent, OutboxStore } from '../store/index.js';

/** Settings and collaborators of the {@link ExpirySweeper}. */
export interface ExpiryOptions {
  outbox: OutboxStore;
  clock: AgentClock;
  /** Period of the sweep, ms (config `outbox.expirySweepMs`). */
  intervalMs: number;
  /** Device wall clock for the ledger's `at`, ms. */
  wallNow: () => number;
  /** Each TTL drop, after its commit. */
  onDrop(drop: DropEvent): void;
  /** Most events dropped per transaction (the sweep yields between chunks); default 5000. */
  chunkRows?: number;
  log: Logger;
}

/**
 * Drops events older than their lane's TTL, in agent-clock time, and saves the
 * agent clock, every `intervalMs`. A large expiry is cut into transactions of `chunkRows`
 * with a turn of the event loop between them, so the API and the drain keep going.
 */
export class ExpirySweeper {
  readonly #o: ExpiryOptions;
  #timer: NodeJS.Timeout | undefined;
  #running = false;

  constructor(options: ExpiryOptions) {
    this.#o = options;
  }

  /** Starts the periodic sweep. */
  start(): void {
    this.#timer ??= setInterval(() => void this.#tick(), this.#o.intervalMs);
  }

  /** Stops it (a sweep under way finishes its current chunk). */
  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** Sweeps every lane now, to the end, synchronously; returns the events dropped. */
  sweepNow(): number {
    let dropped = 0;
    for (const lane of LANES) {
      for (;;) {
        const drop = this.#chunk(lane);
        dropped += drop?.count ?? 0;
        if (!drop || drop.count < this.#chunkRows) break;
      }
    }
    this.#o.clock.persistIfDue();
    return dropped;
  }

  get #chunkRows(): number {
    return this.#o.chunkRows ?? 5000;
  }

  #chunk(lane: (typeof LANES)[number]): DropEvent | undefined {
    const drop = this.#o.outbox.expire(lane, this.#chunkRows, this.#o.wallNow());
    if (drop) this.#o.onDrop(drop);
    return drop;
  }

  async #tick(): Promise<void> {
    if (this.#running) return;
    this.#running = true;
    try {
      for (const lane of LANES) {
        while (this.#timer) {
          const drop = this.#chunk(lane);
          if (!drop || drop.count < this.#chunkRows) break;
          await new Promise<void>((resolve) => setImmediate(resolve));
        }
      }
      if (this.#timer) this.#o.clock.persistIfDue();
    } catch (err) {
      this.#o.log.error({ err }, 'expiry sweep failed; retrying at the next one');
    } finally {
      this.#running = false;
    }
  }
}
