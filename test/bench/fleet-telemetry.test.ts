/**
 * `npm run bench -- fleet --lane telemetry` runs end to end at a tiny size: devices send device
 * reports and drift summaries, the hub stores and folds them, and the report gives the hub's
 * CPU per event and when the last report became visible (the bench itself waits until every
 * device's last report is served). A wrong lane is refused, naming the choices.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { entryPoint } from '../helpers/paths.js';

const run = promisify(execFile);
const BENCH = entryPoint('bench/main');
const args = [...BENCH.execArgv, BENCH.file, 'fleet', '--devices=3', '--events=4', '--batch=2'];

test('fleet --lane telemetry reports ingest, hub CPU per event and visibility', {
  timeout: 180_000,
}, async () => {
  const { stdout } = await run(process.execPath, [...args, '--broker=embedded', '--lane', 'telemetry'], {
    timeout: 170_000,
  });
  assert.match(stdout, /fleet: 3 devices, 4 telemetry events \(device reports and drift summaries/);
  assert.match(stdout, /^hub, embedded aedes .* 3\/3 .* \d+ µs\s+[\d.]+ ms\s*$/m);
});

test('fleet refuses an unknown lane', { timeout: 60_000 }, async () => {
  await assert.rejects(
    run(process.execPath, [...args, '--lane=video'], { timeout: 50_000 }),
    /--lane must be results or telemetry, not video/,
  );
});
