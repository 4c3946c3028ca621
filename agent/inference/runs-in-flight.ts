/**
 * A count of runs in flight and who waits for none to be left: entering and leaving are
 * one addition each (no Set of promises per call). The runtime (`InferenceRuntime`) keeps one
 * per loaded version and closes a displaced session only once its count is back to zero.
 */
export class RunsInFlight {
  #count = 0;
  #waiting: Array<() => void> = [];

  enter(): void {
    this.#count++;
  }

  leave(): void {
    if (--this.#count === 0 && this.#waiting.length > 0) {
      const waiting = this.#waiting;
      this.#waiting = [];
      for (const wake of waiting) wake();
    }
  }

  /** Resolves once no run is in flight (at once when none is). */
  settled(): Promise<void> {
    if (this.#count === 0) return Promise.resolve();
    return new Promise((resolve) => this.#waiting.push(resolve));
  }
}
