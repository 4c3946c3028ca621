import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { buildMnistMlp, decodeUpdate, sha256Hex } from '../../federated/index.js';
import type { Hub } from '../../hub/index.js';
import { loadDigits } from '../../inference/index.js';
import { FL_UPLOAD_PART_BYTES } from '../../shared/messages/federated.js';
import { FaultProxy, tempDir, waitFor } from '../helpers/agent.js';
import { Cleanups } from '../helpers/fixtures.js';
import { api, enroll, startHub } from '../helpers/hub.js';
import {
  assertSecureMatchesPlain,
  type FleetDevice,
  postDigits,
  sliceDigits,
  startAgent,
  taskBody,
  taskEnded,
  waitForArtifactDevices,
} from './fleet.js';

// Secure aggregation over artifacts: a 784-700-10 model (556 510 float32 parameters, 2.2 MB,
// far above the 192 KiB a task can embed) runs one plain FedAvg round and one secure round
// across a real hub and three real agents, each behind a fault proxy in front of the hub's
// HTTP port. The secure round's weights reach the devices as the signed artifact and each
// masked input (one 4-byte word per parameter) goes back as a resumable upload in parts; the
// first masked upload under way is cut once the hub holds part of it, and the same agent
// resumes it. A fourth agent, without artifact support, is left out of both rounds. The
// secure model equals the plain one within the fixed-point bound.

const SLICES = [
  [0, 1, 2, 3],
  [4, 5, 6],
  [7, 8, 9],
];
/**
 * Uploads pass the proxies at this rate while the secure round runs, so the cut lands
 * mid-upload: a 1 MiB part takes 4 s, which leaves the test about 4 s between the first part
 * held and the last, room for a loaded machine's stalls.
 */
const UPLOAD_BYTES_PER_S = 256 * 1024;

type Device = FleetDevice & { proxy: FaultProxy };

describe('secure aggregation of a 2.2 MB model: artifact weights, masked inputs uploaded in parts', () => {
  const cleanups = new Cleanups();
  after(async () => {
    await cleanups.run();
  });

  it('gives the plain FedAvg model, with a cut masked upload resumed', async () => {
    const dir = tempDir('outpost-fl-secbig-hub-');
    cleanups.push(() => dir.remove());
    // The task body embeds the starting weights as base64 (3 MB of JSON).
    const hub: Hub = await startHub(dir.path, {
      http: { bodyLimitBytes: 16 * 1024 * 1024 },
      // The test reads every upload's parts after the round closed.
      federated: { retention: { keepUpdateBytes: true } },
    });
    cleanups.push(() => hub.close());
    const digits = loadDigits(5, 0);
    const devices: Device[] = [];
    for (const [i, slice] of SLICES.entries()) {
      const proxy = new FaultProxy();
      await proxy.listen();
      proxy.setTarget({ host: '127.0.0.1', port: hub.http.port });
      cleanups.push(() => proxy.close());
      const data = tempDir(`outpost-fl-secbig-${i}-`);
      cleanups.push(() => data.remove());
      const device: Device = {
        creds: await enroll(hub, { name: `secbig-${i}` }),
        dataDir: data.path,
        agent: undefined,
        proxy,
      };
      devices.push(device);
      cleanups.push(() => device.agent?.close());
      const agent = await startAgent(device, hub.mqtt.url, {
        inference: { profile: 'x86-64-cpu', threads: 1 },
        delivery: {
          trustedKeys: [hub.delivery.registry.signingKey.keys.publicKeyPem],
          hubHttpUrl: `http://127.0.0.1:${proxy.port}`,
          retryMinMs: 50,
          retryMaxMs: 300,
        },
      });
      await postDigits(agent, sliceDigits(digits, slice), 'train');
    }
    // A device without the hub's HTTP URL or keys: it cannot take artifacts.
    const oldData = tempDir('outpost-fl-secbig-embedded-');
    cleanups.push(() => oldData.remove());
    const embedded: FleetDevice = {
      creds: await enroll(hub, { name: 'secbig-embedded' }),
      dataDir: oldData.path,
      agent: undefined,
    };
    cleanups.push(() => embedded.agent?.close());
    await postDigits(await startAgent(embedded, hub.mqtt.url), sliceDigits(digits, [0, 9]), 'train');
    await waitForArtifactDevices(hub, 3);
    await waitFor(
      async () => (await hub.store.listDevices()).filter((d) => d.online).length === 4,
      'four online',
    );

    const model = buildMnistMlp(7, { hidden: [700] });
    const params = model.weights.reduce((n, w) => n + w.values.length, 0);
    assert.equal(params, 556_510);
    const common = { rounds: 1, minClients: 3, seed: 42, evaluate: false, deadlineS: 300 };
    const plain = await api(hub, 'POST', '/v1/federated/tasks', taskBody(model, { ...common, id: 'plain' }));
    assert.equal(plain.status, 201, JSON.stringify(plain.body).slice(0, 300));
    assert.equal((await taskEnded(hub, 'plain', undefined, 120_000)).status, 'done');

    for (const d of devices) d.proxy.throttle(UPLOAD_BYTES_PER_S, 'up');
    const secure = taskBody(model, { ...common, id: 'secure', secagg: { threshold: 2, maxExamples: 200 } });
    const res = await api(hub, 'POST', '/v1/federated/tasks', secure);
    assert.equal(res.status, 201, JSON.stringify(res.body).slice(0, 300));

    // The secure task carries the signed reference, not the weights; the device that cannot
    // take artifacts is not selected (the weights do not fit in a task).
    const id0 = (devices[0] as Device).creds.id;
    const desired = await waitFor(async () => {
      const t = (await hub.store.getDesired(id0))?.federated?.task;
      return t?.id === 'secure' && t;
    }, 'the secure task');
    const initial = (await hub.store.getFlWeights('secure', 1)) as Uint8Array;
    assert.ok(initial.byteLength > 192 * 1024 * 2, `${initial.byteLength} bytes`);
    assert.equal(desired.weights, undefined);
    assert.equal(desired.weightsArtifact?.sha256, sha256Hex(initial));
    assert.ok(desired.secagg !== undefined);
    assert.ok(JSON.stringify(desired).length < 8192, 'the task stays small');
    const [opened] = (await api(hub, 'GET', '/v1/federated/tasks/secure/rounds')).body.rounds;
    assert.deepEqual([...opened.selected].sort(), devices.map((d) => d.creds.id).sort());

    // The first masked upload under way is cut once the hub holds a part of it; the others go
    // on at full speed, and the cut one's agent (still running: its secrets are in memory)
    // resumes it at the hub's offset.
    const size = 4 * (params + 1);
    const parts = Math.ceil(size / FL_UPLOAD_PART_BYTES);
    const held = async (d: Device) =>
      (await hub.store.getFlChunkHeads('secure', 1, d.creds.id)).filter((h) => h.index > 0).length;
    const a = await waitFor(
      async () => {
        for (const d of devices) if ((await held(d)) >= 1) return d;
        return undefined;
      },
      'a masked upload under way',
      60_000,
    );
    a.proxy.refuse(true);
    a.proxy.cut();
    for (const d of devices) if (d !== a) d.proxy.heal();
    const before = await held(a);
    assert.ok(before > 0 && before < parts, `${before} of ${parts} parts held at the cut`);
    const upBefore = a.proxy.stats().bytes.up.forwarded;
    a.proxy.heal();

    const task = await taskEnded(hub, 'secure', undefined, 120_000);
    assert.equal(task.status, 'done', JSON.stringify(task).slice(0, 500));
    const [round] = (await api(hub, 'GET', '/v1/federated/tasks/secure/rounds')).body.rounds;
    assert.equal(round.metrics.accepted, 3, JSON.stringify(round.metrics));
    // Each masked input arrived as an upload: its event (chunk 0, no bytes) and every part, once.
    for (const d of devices) {
      const chunks = await hub.store.getFlChunks('secure', 1, d.creds.id);
      assert.deepEqual(
        chunks.map((c) => c.index),
        Array.from({ length: parts + 1 }, (_, i) => i),
      );
      assert.deepEqual(chunks[0]?.meta.upload, { size });
      assert.equal(
        chunks.reduce((n, c) => n + c.bytes.byteLength, 0),
        size,
      );
    }
    // The cut agent sent only what the hub lacked (plus at most the part cut in flight).
    const resent = a.proxy.stats().bytes.up.forwarded - upBefore;
    const missing = size - before * FL_UPLOAD_PART_BYTES;
    assert.ok(resent < missing + 2 * FL_UPLOAD_PART_BYTES, `${resent} bytes sent after the cut`);

    const shapes = model.weights.map((w) => ({ name: w.name, shape: w.shape }));
    const weightsOf = async (id: string) =>
      decodeUpdate((await hub.store.getFlWeights(id, 2)) as Uint8Array, shapes);
    const plainW = await weightsOf('plain');
    const maskedW = await weightsOf('secure');
    assertSecureMatchesPlain({
      start: model.weights,
      plain: plainW,
      secure: maskedW,
      survivors: 3,
      examples: round.metrics.examples,
      maxExamples: 200,
    });
  });
});
