/**
 * The attack suite's reporting: each attack is one test that prints `BLOCKED <name>` or
 * `SUCCEEDED <name>: <how>` and fails on a success. An attack function returns undefined
 * when the system held, or a sentence saying what the attacker got.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';

/** What an attack returns: undefined = blocked, else how it succeeded. */
export type AttackOutcome = string | undefined;

/** Options of {@link attack}. */
export interface AttackOptions {
  timeoutMs?: number;
  /**
   * A success this option cannot prevent (a limit of a third-party broker), with why and what
   * bounds it: the attack still runs and prints SUCCEEDED, marked as a known limit, and the
   * test is a `todo` so it does not fail the suite. docs/security.md lists every one.
   */
  knownLimit?: string;
}

/** One attack as a test; `name` is printed with its outcome. */
export function attack(name: string, run: () => Promise<AttackOutcome>, options: AttackOptions = {}): void {
  const { timeoutMs = 120_000, knownLimit } = options;
  test(name, { timeout: timeoutMs, todo: knownLimit }, async () => {
    const how = await run();
    const limit = knownLimit === undefined ? '' : ` [known limit: ${knownLimit}]`;
    process.stdout.write(how === undefined ? `BLOCKED    ${name}\n` : `SUCCEEDED  ${name}: ${how}${limit}\n`);
    assert.equal(how, undefined, `attack succeeded: ${name}: ${how}`);
  });
}

/** Runs `fn` over `items` with at most `width` at once. */
export async function inParallel<T>(items: readonly T[], width: number, fn: (item: T) => Promise<void>) {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++] as T;
      await fn(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(width, items.length) }, worker));
}
