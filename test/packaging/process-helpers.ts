import { type ChildProcess, execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { waitFor } from '../helpers/fixtures.js';
import { repoRoot } from '../helpers/paths.js';

/** The repository root. */
export const root = repoRoot;

/**
 * Resolves with the first capture group of `pattern` in the child's collected output
 * (`child.out`), polling; rejects naming `what` and the output when the child exits first
 * or `timeoutMs` (default 60 s) passes.
 */
export async function waitForOutput(
  child: ChildProcess & { out: string[] },
  pattern: RegExp,
  what: string,
  timeoutMs = 60_000,
): Promise<string> {
  const found = await waitFor(
    () => {
      const match = pattern.exec(child.out.join(''));
      if (match) return { value: match[1] as string };
      if (child.exitCode !== null) return { exited: child.exitCode };
      return undefined;
    },
    what,
    timeoutMs,
  ).catch((err: Error) => {
    throw new Error(`${err.message}\n${child.out.join('')}`);
  });
  if ('exited' in found)
    throw new Error(`waiting for ${what}: exited ${found.exited}\n${child.out.join('')}`);
  return found.value;
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
