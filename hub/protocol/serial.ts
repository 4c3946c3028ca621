/**
 * Runs tasks one at a time per key (a device id), in the order they were queued, while
 * different keys run concurrently. Keeps a device's messages (status, wills, disconnects)
 * in broker order although their handling awaits the store.
 */
export class KeyedSerialQueue {
  private readonly tails = new Map<string, Promise<void>>();

  /** @param onError receives whatever a task throws; the queue itself never rejects. */
  constructor(private readonly onError: (err: unknown, key: string) => void) {}

  /** Queues `task` behind the tasks of `key`; resolves when it has run. */
  run(key: string, task: () => Promise<void>): Promise<void> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    const next = previous.then(task).catch((err: unknown) => this.onError(err, key));
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
}
