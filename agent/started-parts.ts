import type { Logger } from 'pino';

/**
 * The parts of an agent that have started, in start order, so that a start-up that fails
 * part-way closes every one of them (newest first) before the error propagates: no store,
 * timer, worker, listener or HTTP dispatcher outlives a failed `createAgent`.
 */
export class StartedParts {
  readonly #parts: Array<{ what: string; close: () => unknown }> = [];
  readonly #log: Logger;

  constructor(log: Logger) {
    this.#log = log;
  }

  /** Records a started part and how to close it. */
  add(what: string, close: () => unknown): void {
    this.#parts.push({ what, close });
  }

  /** Names of the started parts, in start order. */
  get names(): string[] {
    return this.#parts.map((p) => p.what);
  }

  /** Closes every started part, newest first; a part that fails to close is logged, not thrown. */
  async closeAll(): Promise<void> {
    for (const part of this.#parts.splice(0).reverse()) {
      try {
        await part.close();
      } catch (err) {
        this.#log.warn({ err, part: part.what }, 'part failed to close after a failed start');
      }
    }
  }
}
