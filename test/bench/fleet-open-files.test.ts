import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { test } from 'node:test';
import { entryPoint } from '../helpers/paths.js';

const BENCH = entryPoint('bench/main');

// Every simulated device is one socket of the bench process: a fleet that cannot fit under
// `ulimit -n` would fail part way with EMFILE, so the bench refuses it before any work.
test('the fleet bench refuses a fleet whose sockets would not fit under ulimit -n, saying so', async () => {
  const text = execFileSync('sh', ['-c', 'ulimit -n'], { encoding: 'utf8' }).trim();
  if (text === 'unlimited') return;
  const limit = Number(text);
  const out = await new Promise<{ code: number; text: string }>((resolve) =>
    execFile(
      process.execPath,
      [...BENCH.execArgv, BENCH.file, 'fleet', '--devices', String(limit), '--broker', 'embedded'],
      { timeout: 60_000 },
      (err, stdout, stderr) => resolve({ code: err ? Number(err.code ?? 1) : 0, text: stdout + stderr }),
    ),
  );
  assert.notEqual(out.code, 0, out.text);
  assert.match(
    out.text,
    new RegExp(
      `--devices ${limit} needs about ${limit + 512} open files in this process, and ulimit -n is ${limit} here`,
    ),
  );
  assert.doesNotMatch(out.text, /hashing credentials/);
});
