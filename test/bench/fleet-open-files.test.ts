import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { test } from 'node:test';
import { entryPoint } from '../helpers/paths.js';

const BENCH = entryPoint('bench/main');

/** Runs the fleet bench with `args`; its exit code and all it printed. */
function fleet(args: string[]): Promise<{ code: number; text: string }> {
  return new Promise((resolve) =>
    execFile(
      process.execPath,
      [...BENCH.execArgv, BENCH.file, 'fleet', ...args],
      { timeout: 60_000 },
      (err, stdout, stderr) => resolve({ code: err ? Number(err.code ?? 1) : 0, text: stdout + stderr }),
    ),
  );
}

function openFilesLimit(): number | undefined {
  const text = execFileSync('sh', ['-c', 'ulimit -n'], { encoding: 'utf8' }).trim();
  return text === 'unlimited' ? undefined : Number(text);
}

// Every simulated device is one socket in its device process and one in the broker process
// that serves it: a fleet that some process cannot hold under `ulimit -n` would fail part way
// with EMFILE, so the bench refuses it before any work, naming the process.
test('the fleet bench refuses a fleet the embedded broker’s hub process could not hold, saying so', async () => {
  const limit = openFilesLimit();
  if (limit === undefined) return;
  const out = await fleet(['--devices', String(limit), '--broker', 'embedded']);
  assert.notEqual(out.code, 0, out.text);
  assert.match(
    out.text,
    new RegExp(
      `--devices ${limit} needs about ${limit + 512} open files in the hub process \\(the embedded broker holds every device socket\\), and ulimit -n is ${limit} here: .*or use --broker nats`,
    ),
  );
  assert.doesNotMatch(out.text, /hashing credentials/);
});

test('the fleet bench refuses device processes of more devices than ulimit -n allows, saying so', async () => {
  const limit = openFilesLimit();
  if (limit === undefined) return;
  const out = await fleet([
    '--devices',
    String(limit),
    '--devices-per-process',
    String(limit),
    '--broker',
    'nats',
  ]);
  assert.notEqual(out.code, 0, out.text);
  assert.match(
    out.text,
    new RegExp(
      `needs about ${limit + 512} open files in each device shard process \\(--devices-per-process ${limit}\\), and ulimit -n is ${limit} here: .*or lower --devices-per-process`,
    ),
  );
  assert.doesNotMatch(out.text, /hashing credentials/);
});
