/**
 * A level-triggered wake-up: `notify()` before anyone waits is remembered, so a wake-up can
 * never be lost between a check and the wait that follows it.
 */
export class Signal {
  #pending = false;
  #waiters: Array<() => void> = [];

  /** Wakes every waiter, or the next one when none is waiting. */
  notify(): void {
    if (this.#waiters.length === 0) {
      this.#pending = true;
      return;
    }
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const wake of waiters) wake();
  }

  /**
   * Resolves `true` on a notification (immediately if one is pending), `false` when
   * `timeoutMs` passes first. Without a timeout it waits for a notification.
   */
  wait(timeoutMs?: number): Promise<boolean> {
    if (this.#pending) {
      this.#pending = false;
      return Promise.resolve(true);
    }
    return new Promise<boolean>((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const wake = () => {
        if (timer) clearTimeout(timer);
        resolve(true);
      };
      this.#waiters.push(wake);
      if (timeoutMs !== undefined) {
        timer = setTimeout(() => {
          this.#waiters = this.#waiters.filter((w) => w !== wake);
          resolve(false);
        }, timeoutMs);
      }
    });
  }
}
