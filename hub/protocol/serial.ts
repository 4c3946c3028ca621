/**
 * Runs tasks one at a time per key (a device id), in the order they were queued, while
 * different keys run concurrently, at most `limit` of them at once; the others wait their turn
 * in queue order. Keeps a device's messages (status, wills, disconnects) in broker order
 * although their handling awaits the store, and keeps a flood of devices from queueing
 * unbounded work on the store (see {@link UPLINK_CONCURRENCY}).
 */
export class KeyedSerialQueue {
  private readonly tails = new Map<string, Promise<void>>();
  private running = 0;
  /** Tasks waiting for a turn, oldest at `head` (a head index: no O(n) shift per turn). */
  private waiting: Array<() => void> = [];
  private head = 0;

  /**
   * @param onError receives whatever a task throws; the queue itself never rejects.
   * @param limit most tasks running at once over all keys.
   */
  constructor(
    private readonly onError: (err: unknown, key: string) => void,
    private readonly limit = Number.POSITIVE_INFINITY,
  ) {
    if (!(limit >= 1)) throw new RangeError(`limit must be ≥ 1, got ${limit}`);
  }

  /** Queues `task` behind the tasks of `key`; resolves when it has run. */
  run(key: string, task: () => Promise<void>): Promise<void> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    const next = previous.then(() => this.inTurn(task)).catch((err: unknown) => this.onError(err, key));
    this.tails.set(key, next);
    void next.then(() => {
      if (this.tails.get(key) === next) this.tails.delete(key);
    });
    return next;
  }

  /** Resolves once every queued task (including ones queued meanwhile) has run. */
  async drain(): Promise<void> {
    while (this.tails.size > 0) await Promise.all([...this.tails.values()]);
  }

  private async inTurn(task: () => Promise<void>): Promise<void> {
    if (this.running < this.limit) this.running++;
    else await new Promise<void>((resolve) => this.waiting.push(resolve));
    try {
      await task();
    } finally {
      this.handOn();
    }
  }

  /** A task ended: its turn goes to the oldest waiting task, or is given back. */
  private handOn(): void {
    const next = this.waiting[this.head];
    if (next === undefined) {
      this.running--;
      return;
    }
    this.waiting[this.head++] = undefined as unknown as () => void;
    if (this.head > 1024 && this.head * 2 > this.waiting.length) {
      this.waiting = this.waiting.slice(this.head);
      this.head = 0;
    }
    next();
  }
}

/**
 * Device messages the hub handles at once. Each is a store round trip or two; with
 * unbounded concurrency 20,000 devices sending together queued 20,000 waiters on the
 * PostgreSQL pool, whose 10 s connect timeout then failed most of them (each failure removed
 * from its queue in O(n)), so the hub did almost nothing useful while the devices resent. 64
 * keeps a pool of 10 to 100 connections busy; the rest waits here in order, without a timeout.
 */
export const UPLINK_CONCURRENCY = 64;
