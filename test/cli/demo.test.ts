import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runCli } from './run-cli.js';

test('outpost demo --json: 3 devices online, every event ingested once, one agent crashed, one offline, agents updated over the air', async () => {
  const { code, stdout, stderr } = await runCli(['demo', '--json'], {}, 300_000);
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
  // One agent went offline, kept queueing, came back and drained.
  assert.equal(report.offline.device, 'demo-1');
  assert.ok(report.offline.queued > 0, 'events queued while offline');
  assert.ok(report.offline.drained >= report.offline.queued, 'the queue drained once back');
  assert.deepEqual([report.offline.duplicates, report.offline.lost], [0, 0]);
  // ... and kept inferring: its local model answered while the hub was unreachable.
  assert.equal(report.offline.inferred, 10);
  assert.equal(report.offline.servedLocally, 10);
  // A model trained here on real digits on every agent; engine and variant chosen by
  // each profile (x86-64-cuda and browser-webgpu prefer fp16, not installed, then fp32;
  // raspberry-pi-4 prefers int8) with the real rejections; the second pass answered by the
  // cache; one escalation to the hub.
  const inf = report.inference;
  assert.deepEqual(
    // biome-ignore lint/suspicious/noExplicitAny: report JSON
    inf.devices.map((d: any) => [d.id, d.profile, d.engine, d.precision]),
    [
      ['demo-1', 'x86-64-cuda', 'onnx:cpu', 'fp32'],
      ['demo-2', 'raspberry-pi-4', 'onnx:cpu', 'int8'],
      // onnx:webgpu runs on the software Vulkan adapter (mesa-vulkan-drivers) CI installs.
      ['demo-3', 'browser-webgpu', 'onnx:webgpu', 'fp32'],
    ],
  );
  assert.deepEqual(
    inf.devices[0].rejected.map((r: { engine: string }) => r.engine),
    ['onnx:tensorrt', 'onnx:cuda'],
  );
  assert.match(inf.devices[0].rejected[0].reason, /TensorRT/);
  assert.deepEqual(inf.devices[2].rejected, []);
  // biome-ignore lint/suspicious/noExplicitAny: report JSON
  for (const d of inf.devices as any[]) {
    assert.ok(d.accuracy > 0.7, `${d.id} accuracy ${d.accuracy}`);
    assert.equal(d.cache.hits, d.cache.misses, `${d.id}: every digit asked twice, the second from the cache`);
  }
  assert.equal(inf.cacheHitRate, 0.5);
  assert.ok(inf.escalations >= 1);
  assert.equal(inf.escalation.servedBy, 'cloud');
  assert.ok(inf.escalation.confidence < inf.escalation.threshold);
  // V1 rolled out to the fleet; the broken v2 caught by a gate at the canary stage and
  // rolled back automatically; v3 reaches every device.
  const ro = report.rollouts;
  assert.deepEqual(ro.problems, []);
  assert.equal(ro.v1.state, 'completed');
  assert.equal(ro.v2.state, 'rolled-back');
  assert.match(ro.v2.reason, /^gate error_rate<[\d.]+ failed: error_rate = /);
  assert.equal(ro.v2.stage, 0, 'caught at the first (canary) stage');
  assert.equal(ro.v3.state, 'completed');
  assert.deepEqual(ro.final, { 'demo-1': '3.0.0', 'demo-2': '3.0.0', 'demo-3': '3.0.0' });
  // Federated rounds on non-IID slices improve held-out accuracy; the new version is
  // registered with its round as lineage and runs on every device.
  const fl = report.federated;
  assert.deepEqual(fl.problems, []);
  assert.ok(fl.rounds.length >= 1);
  assert.ok(fl.accuracyAfter > fl.accuracyBefore, `${fl.accuracyBefore} -> ${fl.accuracyAfter}`);
  assert.deepEqual([...fl.runningIt].sort(), ['demo-1', 'demo-2', 'demo-3']);
  // The agents themselves updated over the air: the broken 0.2.0 (it exits at start) reached
  // only its canary, whose launcher reverted it by itself, and the rollout rolled back; the
  // good 0.2.1 then reached the whole fleet. The event counts above span both updates.
  const au = report.agentUpdate;
  assert.deepEqual(au.problems, []);
  assert.equal(au.broken.rolledBack, true);
  assert.match(au.broken.device, /^demo-[123]$/);
  assert.match(au.broken.reason, /^0\.2\.0 exited \(code 1\) before confirming its health$/);
  assert.equal(au.good.version, '0.2.1');
  assert.deepEqual([...au.good.devices].sort(), ['demo-1', 'demo-2', 'demo-3']);
});
