/**
 * Runs tasks at most `width` at once, taking turns between keys (round robin): a key with
 * many queued tasks (a flood from one address) does not make another key's task (a device
 * connecting from elsewhere) wait behind all of them.
 */
export class FairQueue {
  private running = 0;
  private readonly queues = new Map<string, Array<() => void>>();

  constructor(private readonly width: number) {}

  /** Runs `task` when a slot is free and it is `key`'s turn. */
  run<T>(key: string, task: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const start = () => {
        this.running += 1;
        task()
          .then(resolve, reject)
          .finally(() => {
            this.running -= 1;
            this.next();
          });
      };
      const queue = this.queues.get(key);
      if (queue === undefined) this.queues.set(key, [start]);
      else queue.push(start);
      this.next();
    });
  }

  private next(): void {
    while (this.running < this.width) {
      const first = this.queues.entries().next();
      if (first.done) return;
      const [key, queue] = first.value;
      const start = queue.shift();
      // The key goes to the back of the line (Map order is insertion order).
      this.queues.delete(key);
      if (queue.length > 0) this.queues.set(key, queue);
      start?.();
    }
  }
}
