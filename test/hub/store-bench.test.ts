/**
 * `npm run bench -- store` runs end to end at a tiny size: every event is stored on each
 * backend (the bench itself checks the count) and the report has a row per backend;
 * PostgreSQL's row says why it was skipped when the database cannot be reached.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { entryPoint } from '../helpers/paths.js';
import { probePostgres, TEST_PG_URL } from '../store-contract/backends.js';

const run = promisify(execFile);
const BENCH = entryPoint('bench/main');

test('the store bench ingests on SQLite and PostgreSQL and reports both', { timeout: 180_000 }, async () => {
  const { stdout } = await run(
    process.execPath,
    [...BENCH.execArgv, BENCH.file, 'store', '--devices=2', '--batches=3', '--batch=4'],
    { env: { ...process.env, OUTPOST_BENCH_PG_URL: TEST_PG_URL }, timeout: 170_000 },
  );
  assert.match(stdout, /store: 2 devices × 3 batches × 4 events/);
  assert.match(stdout, /^sqlite\s+24\s+\d+ ms\s+\d+\s+[\d.]+$/m);
  if ((await probePostgres()) === undefined) assert.match(stdout, /^postgres\s+24\s+\d+ ms\s+\d+\s+[\d.]+$/m);
  else assert.match(stdout, /^postgres\s+skipped: /m);
});

test('the store bench skips PostgreSQL, saying why, when it cannot be reached', {
  timeout: 180_000,
}, async () => {
  const { stdout } = await run(
    process.execPath,
    [...BENCH.execArgv, BENCH.file, 'store', '--devices=1', '--batches=1', '--batch=1'],
    // Port 1 on loopback: nothing listens there, so the connection is refused at once.
    {
      env: { ...process.env, OUTPOST_BENCH_PG_URL: 'postgres://postgres@127.0.0.1:1/test' },
      timeout: 170_000,
    },
  );
  assert.match(stdout, /^sqlite\s+1\s/m);
  assert.match(stdout, /^postgres\s+skipped: cannot open the PostgreSQL store/m);
});

test('with --telemetry, each backend ingests device reports and drift summaries with and without the fold', {
  timeout: 180_000,
}, async () => {
  const { stdout } = await run(
    process.execPath,
    [...BENCH.execArgv, BENCH.file, 'store', '--devices=2', '--batches=3', '--batch=4', '--telemetry=1'],
    { env: { ...process.env, OUTPOST_BENCH_PG_URL: TEST_PG_URL }, timeout: 170_000 },
  );
  assert.match(stdout, /store: 2 devices × 3 batches × 4 telemetry events/);
  // The bench itself checks that the fold caught up with every report.
  assert.match(stdout, /^sqlite\s+ingest only\s+24\s+\d+ ms/m);
  assert.match(stdout, /^sqlite\s+ingest \+ fold\s+24\s+\d+ ms/m);
  if ((await probePostgres()) === undefined)
    assert.match(stdout, /^postgres\s+ingest \+ fold\s+24\s+\d+ ms/m);
});
