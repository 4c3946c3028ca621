import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { entryPoint } from '../helpers/paths.js';

const BENCH = entryPoint('bench/main');

// The documented command at its smoke size: it finds the batch of a 0.2 ms raw run and
// prints every table with a figure in each cell (the figures themselves are for benchmarks).
test('npm run bench -- inference-overhead --quick prints the 0.2 ms batch and every table', async () => {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [...BENCH.execArgv, BENCH.file, 'inference-overhead', '--quick'],
    { timeout: 300_000, maxBuffer: 4 << 20 },
  );
  const goal = /batch (\d+): the batch whose raw run took 0\.2 ms/.exec(stdout);
  assert.ok(goal, stdout);
  const batch = Number(goal[1]);
  assert.ok(batch >= 16 && batch % 16 === 0, `batch ${batch}`);
  for (const b of [batch, 48, 1]) {
    assert.match(
      stdout,
      new RegExp(`^${b} +[\\d.]+ ms +[\\d.]+× +[\\d.]+ ms +[\\d.]+× +[\\d.]+ ms +[\\d.]+×$`, 'm'),
    );
    assert.match(stdout, new RegExp(`^${b} +[\\d.]+ µs +[\\d.]+ µs +[\\d.]+× +-?[\\d.]+ µs$`, 'm'));
  }
  for (const path of ['binary, fetch', 'binary, undici request', 'JSON, fetch', 'JSON, undici request'])
    assert.match(stdout, new RegExp(`^${path} +[\\d.]+ ms +[\\d.]+ ms +-?[\\d.]+ ms$`, 'm'));
});
