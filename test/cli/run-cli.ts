import { execFile } from 'node:child_process';
import { entryPoint, repoRoot } from '../helpers/paths.js';

const CLI = entryPoint('cli/main');

/**
 * Runs `outpost ARGS` and returns its exit code and output: the compiled CLI when the suite
 * runs from `dist/` (npm test), the source through tsx when a test file runs from source.
 */
export function runCli(
  args: readonly string[],
  env: Record<string, string> = {},
  timeoutMs = 90_000,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolvePromise) => {
    execFile(
      process.execPath,
      [...CLI.execArgv, CLI.file, ...args],
      { cwd: repoRoot, env: { ...process.env, ...env }, timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        resolvePromise({ code, stdout, stderr });
      },
    );
  });
}
