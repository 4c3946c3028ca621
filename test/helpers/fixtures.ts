/**
 * The test fixtures every suite shares: one temp-dir helper, one polling wait, and a list of
 * cleanups that runs newest first and never stops at a failing step. Hub and agent helpers
 * (hub.ts, agent.ts) re-export them, so tests import them from either.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A temp directory. */
export interface TempDir {
  path: string;
  /** Deletes it (with its content); safe to call twice, and to `await`. */
  remove(): void;
}

/** A fresh temp directory under the OS temp dir. */
export function tempDir(prefix = 'outpost-test-'): TempDir {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

/**
 * Polls `check` until it returns something other than `undefined`/`false`, and returns it.
 * A `check` that throws counts as "not yet" (a hub still starting, a row not yet written);
 * the last error is named if the deadline passes. The timeout is a generous safety net for
 * a loaded machine, not a timing assertion.
 */
export async function waitFor<T>(
  check: () => T | undefined | false | Promise<T | undefined | false>,
  what: string,
  timeoutMs = 15_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}${lastError ? `: ${String(lastError)}` : ''}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/**
 * What a test started and must stop: `add` each part as it starts, `run` (in `after` or
 * `afterEach`) closes them newest first; a step that fails does not stop the others, and the
 * first failure is rethrown at the end.
 */
export class Cleanups {
  readonly #steps: Array<() => unknown> = [];

  /** Registers cleanup steps. */
  add(...steps: Array<() => unknown>): void {
    this.#steps.push(...steps);
  }

  /** Same as {@link add}: code written for a plain array of cleanups keeps working. */
  push(...steps: Array<() => unknown>): void {
    this.add(...steps);
  }

  /** Runs every registered step, newest first, and forgets them. */
  async run(): Promise<void> {
    let first: unknown;
    for (const step of this.#steps.splice(0).reverse()) {
      try {
        await step();
      } catch (err) {
        first ??= err;
      }
    }
    if (first !== undefined) throw first;
  }
}
