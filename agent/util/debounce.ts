/**
 * Runs `fn` once, `delayMs` after the first of any number of {@link trigger} calls
 * (trailing coalescing: a burst of changes gives one call). {@link cancel} drops a pending run.
 */
export class Coalesced {
  readonly #fn: () => void;
  readonly #delayMs: number;
  #timer: NodeJS.Timeout | undefined;

  constructor(fn: () => void, delayMs: number) {
    this.#fn = fn;
    this.#delayMs = delayMs;
  }

  /** Schedules a run unless one is pending. */
  trigger(): void {
    if (this.#timer) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#fn();
    }, this.#delayMs);
  }

  /** Drops the pending run, if any. */
  cancel(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
