import type { ChildProcess } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root. */
export const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/**
 * Resolves with the first capture group of `pattern` in the child's collected output
 * (`child.out`), polling; rejects naming `what` and the output when the child exits first
 * or `timeoutMs` (default 60 s) passes.
 */
export async function waitFor(
  child: ChildProcess & { out: string[] },
  pattern: RegExp,
  what: string,
  timeoutMs = 60_000,
): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const match = pattern.exec(child.out.join(''));
    if (match) return match[1] as string;
    if (child.exitCode !== null)
      throw new Error(`waiting for ${what}: exited ${child.exitCode}\n${child.out.join('')}`);
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}\n${child.out.join('')}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
