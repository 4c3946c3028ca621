import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runCli } from './run-cli.js';

test('outpost demo --json: 3 devices online, every event ingested once, one agent crashed, one offline', async () => {
  const { code, stdout, stderr } = await runCli(['demo', '--json'], {}, 120_000);
  assert.equal(code, 0, `demo failed:\n${stdout}\n${stderr}`);
  const report = JSON.parse(stdout.trim());
  assert.equal(report.ok, true, report.problems?.join('\n'));
  assert.equal(report.devices.online, 3);
  assert.equal(report.devices.enrolled, 3);
  assert.ok(report.events.sent > 0);
  assert.equal(report.events.ingested, report.events.sent);
  assert.equal(report.events.duplicates, 0);
  assert.equal(report.events.lost, 0);
  assert.ok(report.events.sent >= report.events.accepted);
  assert.ok(report.crash.acceptedBeforeKill > 0);
  assert.equal(report.perDevice.length, 3);
  // Issue 4: one agent went offline, kept queueing, came back and drained.
  assert.equal(report.offline.device, 'demo-1');
  assert.ok(report.offline.queued > 0, 'events queued while offline');
  assert.ok(report.offline.drained >= report.offline.queued, 'the queue drained once back');
  assert.deepEqual([report.offline.duplicates, report.offline.lost], [0, 0]);
});
