import { type ChildProcess, execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
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

/**
 * Runs the built CLI (`node dist/cli/main.js ARGS`): a second per call instead of the
 * TypeScript transform's several on a loaded machine. Needs `npx tsc -b` first (npm test
 * builds); says so when dist is missing.
 */
export function runBuiltCli(
  args: readonly string[],
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const main = resolve(root, 'dist/cli/main.js');
  if (!existsSync(main)) throw new Error('dist/cli/main.js missing: run npx tsc -b first');
  return new Promise((done) =>
    execFile(
      process.execPath,
      [main, ...args],
      { cwd: root, env: { ...process.env, ...env }, maxBuffer: 16 * 1024 * 1024 },
      (err, stdout, stderr) => done({ code: err ? Number(err.code ?? 1) : 0, stdout, stderr }),
    ),
  );
}
