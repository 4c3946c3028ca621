/**
 * `npm run bench -- retention --quick --devices 1` runs end to end: on SQLite and on the
 * tests' PostgreSQL, the first pass deletes the old head of each lane and later passes, which
 * find nothing old, are timed at two lane sizes. The bench itself fails when a pass deletes
 * anything other than the old heads.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { entryPoint } from '../helpers/paths.js';
import { TEST_PG_URL } from '../store-contract/backends.js';

const run = promisify(execFile);
const BENCH = entryPoint('bench/main');

test('retention bench: a pass at two lane sizes on both backends', { timeout: 180_000 }, async () => {
  const { stdout } = await run(
    process.execPath,
    [...BENCH.execArgv, BENCH.file, 'retention', '--quick', '--devices', '1'],
    { timeout: 170_000, env: { ...process.env, OUTPOST_BENCH_PG_URL: TEST_PG_URL } },
  );
  assert.match(stdout, /^retention: 1 lanes per store, 10 old events each/m);
  for (const backend of ['sqlite', 'postgres'])
    for (const young of [200, 2000])
      assert.match(
        stdout,
        new RegExp(`^${backend}\\s+${young}\\s+[\\d.]+ ms\\s+[\\d.]+ ms\\s+[\\d.]+ ms\\s+[\\d.]+×$`, 'm'),
        stdout,
      );
});

test('retention bench refuses an unknown setting', { timeout: 60_000 }, async () => {
  await assert.rejects(
    run(process.execPath, [...BENCH.execArgv, BENCH.file, 'retention', '--lanes=3'], { timeout: 50_000 }),
    /retention: unknown setting --lanes/,
  );
});
