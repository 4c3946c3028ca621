import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { buildMnistMlp, sha256Hex } from '../../federated/index.js';
import type { Hub } from '../../hub/index.js';
import { loadDigits } from '../../inference/index.js';
import { FL_UPLOAD_PART_BYTES } from '../../shared/messages/federated.js';
import { FaultProxy, tempDir, waitFor } from '../helpers/agent.js';
import { Cleanups } from '../helpers/fixtures.js';
import { api, enroll, startHub } from '../helpers/hub.js';
import {
  type FleetDevice,
  postDigits,
  sliceDigits,
  startAgent,
  taskBody,
  taskEnded,
  waitForArtifactDevices,
} from './fleet.js';

// A ~20 MB model (a 784-6300-10 Dense net: 5 008 510 float32 parameters) trained
// across a real hub and two real agents. The round's global model reaches the devices as a
// signed artifact (never in the desired state), each update goes back as a resumable upload;
// the first upload to start is cut mid-way by a fault proxy in front of the hub's HTTP port
// and its agent restarted: it resumes where the hub stands and the round closes with each
// update counted once.

const ALL = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
/** Uploads go through the proxies at this rate until the cut, so it lands mid-upload. */
const UPLOAD_BYTES_PER_S = 8 * 1024 * 1024;

type Device = FleetDevice & { proxy: FaultProxy };

describe('a 20 MB model: weights as artifacts, an upload cut and an agent restart', () => {
  const cleanups = new Cleanups();
  after(async () => {
    await cleanups.run();
  });

  it('closes the round with both updates counted once', async () => {
    const dir = tempDir('outpost-fl-big-hub-');
    cleanups.push(() => dir.remove());
    // The task body embeds the starting weights as base64 (27 MB of JSON).
    // The uploaded parts are counted after the round: the hub keeps update bytes.
    const hub: Hub = await startHub(dir.path, {
      http: { bodyLimitBytes: 64 * 1024 * 1024 },
      federated: { retention: { keepUpdateBytes: true } },
    });
    cleanups.push(() => hub.close());
    const devices: Device[] = [];
    for (const i of [0, 1]) {
      const proxy = new FaultProxy();
      await proxy.listen();
      proxy.setTarget({ host: '127.0.0.1', port: hub.http.port });
      cleanups.push(() => proxy.close());
      const data = tempDir(`outpost-fl-big-${i}-`);
      cleanups.push(() => data.remove());
      const device: Device = {
        creds: await enroll(hub, { name: `big-${i}` }),
        dataDir: data.path,
        agent: undefined,
        proxy,
      };
      devices.push(device);
      cleanups.push(() => device.agent?.close());
    }
    const start = (d: Device) =>
      startAgent(d, hub.mqtt.url, {
        inference: { profile: 'x86-64-cpu', threads: 1 },
        delivery: {
          trustedKeys: [hub.delivery.registry.signingKey.keys.publicKeyPem],
          hubHttpUrl: `http://127.0.0.1:${d.proxy.port}`,
          retryMinMs: 50,
          retryMaxMs: 300,
        },
      });
    // One digit per class: one SGD step of batch 10 per device (the test is about the transport).
    const digits = sliceDigits(loadDigits(1, 0), ALL);
    await Promise.all(devices.map(async (d) => postDigits(await start(d), digits, 'train')));
    // Both say they take artifacts (their reported state), so both get the artifact form.
    await waitForArtifactDevices(hub, 2);

    const model = buildMnistMlp(5, { hidden: [6300] });
    assert.equal(
      model.weights.reduce((n, w) => n + w.values.length, 0),
      5_008_510,
    );
    for (const d of devices) d.proxy.throttle(UPLOAD_BYTES_PER_S, 'up');
    const body = taskBody(model, { id: 'big', rounds: 1, minClients: 2, deadlineS: 300, evaluate: false });
    const res = await api(hub, 'POST', '/v1/federated/tasks', { ...body, clipNorm: 1000 });
    assert.equal(res.status, 201, JSON.stringify(res.body).slice(0, 300));

    // The desired state carries the signed reference only.
    const id0 = (devices[0] as Device).creds.id;
    const desired = await waitFor(async () => (await hub.store.getDesired(id0))?.federated?.task, 'the task');
    assert.equal(desired.weights, undefined);
    assert.equal(desired.weightsDigest, undefined);
    const initial = await hub.store.getFlWeights('big', 1);
    assert.ok(initial && initial.byteLength > 20_000_000, `${initial?.byteLength} bytes`);
    assert.equal(desired.weightsArtifact?.sha256, sha256Hex(initial));
    assert.equal(desired.weightsArtifact?.size, initial.byteLength);
    assert.ok(JSON.stringify(desired).length < 8192, 'the task stays small');

    // The first device whose upload is under way has it cut once the hub holds a few of its
    // parts, and its agent is restarted; the other's upload goes on at full speed.
    const parts = Math.ceil(initial.byteLength / FL_UPLOAD_PART_BYTES);
    const held = async (d: Device) =>
      (await hub.store.getFlChunkHeads('big', 1, d.creds.id)).filter((h) => h.index > 0).length;
    const a = await waitFor(
      async () => {
        for (const d of devices) if ((await held(d)) >= 3) return d;
        return undefined;
      },
      'an upload under way',
      60_000,
    );
    const b = devices.find((d) => d !== a) as Device;
    a.proxy.refuse(true);
    a.proxy.cut();
    b.proxy.heal();
    await a.agent?.close();
    const before = await held(a);
    assert.ok(before > 0 && before < parts, `${before} of ${parts} parts held at the cut`);
    const upBefore = a.proxy.stats().bytes.up.forwarded;
    a.proxy.heal();
    a.proxy.refuse(false);
    await start(a);

    const done = await taskEnded(hub, 'big', 'the task to finish', 90_000);
    assert.equal(done.status, 'done', JSON.stringify(done).slice(0, 500));
    const rounds = (await api(hub, 'GET', '/v1/federated/tasks/big/rounds')).body.rounds;
    assert.equal(rounds.length, 1);
    const r = rounds[0];
    assert.equal(r.status, 'closed');
    assert.equal(r.metrics.accepted, 2, JSON.stringify(r.metrics));
    assert.deepEqual(r.metrics.rejected, {});
    assert.deepEqual(
      r.updates.map((u: { deviceId: string; status: string }) => [u.deviceId, u.status]),
      devices.map((d) => [d.creds.id, 'accepted']).sort(),
    );
    for (const d of devices) {
      // Chunk 0 (the event) + every part, each once.
      const heads = await hub.store.getFlChunkHeads('big', 1, d.creds.id);
      assert.deepEqual(
        heads.map((h) => h.index),
        Array.from({ length: parts + 1 }, (_, i) => i),
      );
    }
    // The restarted agent sent only what the hub lacked (plus at most the part cut in flight).
    const resent = a.proxy.stats().bytes.up.forwarded - upBefore;
    const missing = initial.byteLength - before * FL_UPLOAD_PART_BYTES;
    assert.ok(resent < missing + 2 * FL_UPLOAD_PART_BYTES, `${resent} bytes sent after the restart`);
    const next = await hub.store.getFlWeights('big', 2);
    assert.ok(next !== undefined && sha256Hex(next) !== sha256Hex(initial), 'the global model moved');
    // Nothing waits on the devices; the round's artifact is gone with the task.
    for (const d of devices) {
      const status = (await (await fetch(`${d.agent?.api.url}/v1/federated`)).json()) as {
        uploads: unknown[];
      };
      assert.deepEqual(status.uploads, []);
    }
    assert.equal(
      await hub.delivery.registry.artifacts.stat(desired.weightsArtifact?.sha256 as string),
      undefined,
    );
  });
});
