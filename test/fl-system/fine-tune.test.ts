import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  buildMnistCnn,
  decodeUpdate,
  type LayersModel,
  predictLogits,
  reassemble,
  type Samples,
  trainLocal,
} from '../../federated/index.js';
import { layersModelFiles } from '../../hub/federated/closed-loop.js';
import { loadRegisteredModel } from '../../hub/federated/registry-model.js';
import type { Hub } from '../../hub/index.js';
import { DIGIT_PIXELS, loadDigits, packTfjsBundle } from '../../inference/index.js';
import { tempDir, waitFor } from '../helpers/agent.js';
import { Cleanups } from '../helpers/fixtures.js';
import { api, enroll, startHub } from '../helpers/hub.js';
import { type FleetDevice, postDigits, sliceDigits, startAgent, taskEnded } from './fleet.js';

// Fine-tuning a pretrained CNN's head across real agents and a real hub, on real MNIST digits.
// The base (conv → BN → pool ×2, Dense 32, Dense 10) is pretrained here on digits 0-6 only, so
// it never answers 7, 8 or 9; it is registered as a tfjs-layers version. A task trains only
// its Dense layers on two devices that hold every digit: only those layers' deltas travel
// (int8-compressed), the frozen convolutions come back bit-identical, the improved version is
// registered as ONNX fp32 and int8 after its parity check and rolled out, and each device runs
// the variant its profile prefers (x86-64: fp32, Raspberry Pi: int8) with the TF.js model's
// answers.

const ALL = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
const HEAD = ['hidden/kernel', 'hidden/bias', 'output/kernel', 'output/bias'];

/** The "pretrained" base: a small CNN trained on 50 digits of each class 0-6. */
async function pretrainedBase(): Promise<LayersModel> {
  const base = buildMnistCnn(7, { filters: [8, 16], kernel: 3, dense: 32, batchNorm: true, dropout: 0.2 });
  const seen = sliceDigits(loadDigits(50, 0), [0, 1, 2, 3, 4, 5, 6]);
  const samples: Samples = {
    x: seen.pixels,
    y: Uint8Array.from(seen.labels),
    count: seen.labels.length,
    features: DIGIT_PIXELS,
  };
  const r = await trainLocal({ model: base, samples, lr: 0.05, epochs: 2, batchSize: 16, seed: 1 });
  return { modelTopology: base.modelTopology, weights: r.weights };
}

function softmax(logits: Float32Array, classes = 10): Float32Array {
  const out = new Float32Array(logits.length);
  for (let r = 0; r < logits.length / classes; r++) {
    const row = logits.subarray(r * classes, (r + 1) * classes);
    const m = Math.max(...row);
    const z = row.reduce((s, v) => s + Math.exp(v - m), 0);
    row.forEach((v, k) => {
      out[r * classes + k] = Math.exp(v - m) / z;
    });
  }
  return out;
}

describe('fine-tuning a pretrained CNN head on devices, registered and rolled out as ONNX', () => {
  const cleanups = new Cleanups();
  let base: LayersModel;
  before(async () => {
    base = await pretrainedBase();
  });
  after(async () => {
    await cleanups.run();
  });

  it('trains only the head, registers ONNX fp32/int8 after parity, and the devices run it', async (t) => {
    const dir = tempDir('outpost-fl-hub-');
    cleanups.push(() => dir.remove());
    // The updates are read after the task: the hub keeps update bytes.
    const hub: Hub = await startHub(dir.path, { federated: { retention: { keepUpdateBytes: true } } });
    cleanups.push(() => hub.close());
    const registry = hub.delivery.registry;
    const files = layersModelFiles(base.modelTopology, base.weights);
    await registry.registerVersion({
      name: 'digits-cnn',
      version: '1.0.0',
      precision: 'fp32',
      bytes: packTfjsBundle({
        format: 'tfjs-layers',
        modelJson: files.modelJson,
        modelJsonBytes: files.modelJsonBytes,
        shards: new Map([['weights.bin', files.shard]]),
      }),
    });

    // Two devices with every digit (different samples); one prefers fp32, one int8.
    const devices: FleetDevice[] = [];
    for (const [i, profile] of ['x86-64-cpu', 'raspberry-pi-4'].entries()) {
      const data = tempDir(`outpost-fl-ft-${i}-`);
      cleanups.push(() => data.remove());
      const device: FleetDevice = {
        creds: await enroll(hub, { name: `ft-${i}` }),
        dataDir: data.path,
        agent: undefined,
      };
      const agent = await startAgent(device, hub.mqtt.url, {
        inference: { profile, threads: 1 },
        delivery: {
          trustedKeys: [registry.signingKey.keys.publicKeyPem],
          hubHttpUrl: hub.http.url,
          retryMinMs: 50,
          retryMaxMs: 500,
        },
      });
      cleanups.push(() => device.agent?.close());
      await postDigits(agent, sliceDigits(loadDigits(12, 100 + 100 * i), ALL), 'train');
      devices.push(device);
    }
    await waitFor(
      async () => (await hub.store.listDevices()).filter((d) => d.online).length === 2,
      'two devices online',
    );

    // The starting model comes from the registry; the task names the layers that train.
    const res = await api(hub, 'POST', '/v1/federated/tasks', {
      id: 'head',
      model: { name: 'digits-cnn', version: '1.0.0' },
      trainableLayers: ['hidden', 'output'],
      rounds: 2,
      minClients: 2,
      lr: 0.05,
      epochs: 2,
      batchSize: 10,
      clipNorm: 20,
      compression: { kind: 'int8' },
      evaluate: false,
      hubEval: { perClass: 20 },
      closedLoop: { rollout: { stages: [100], bakeMs: 1000 } },
    });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    const task = await taskEnded(hub, 'head', 'the task to finish', 80_000);
    assert.equal(task.status, 'done', JSON.stringify(task));
    const rounds = (await api(hub, 'GET', '/v1/federated/tasks/head/rounds')).body.rounds;
    const start = rounds[0].metrics.hubEvalStart.accuracy;
    const end = rounds.at(-1).metrics.hubEval.accuracy;
    // The base never answers 7-9 (at most 70% of a balanced set); the tuned head learns them.
    assert.ok(start <= 0.7, `start ${start}`);
    assert.ok(end > start + 0.05, `hub accuracy ${start} → ${end}`);

    // Only the head travelled: each device's update decodes against the head's tensors.
    const shapes = base.weights.map((w) => ({ name: w.name, shape: [...w.shape] }));
    const head = shapes.filter((s) => HEAD.includes(s.name));
    for (const d of devices) {
      const chunks = await hub.store.getFlChunks('head', 1, d.creds.id);
      const bytes = reassemble(
        chunks.map((c) => ({ index: c.index, total: c.total, digest: c.digest, bytes: c.bytes })),
      );
      assert.deepEqual(
        decodeUpdate(bytes, head).map((t) => t.name),
        HEAD,
      );
      assert.throws(() => decodeUpdate(bytes, shapes));
      t.diagnostic(`update of ${d.creds.id}: ${bytes.byteLength} bytes (int8 head only)`);
    }
    // The frozen base comes back bit-identical; the head moved.
    const finalBytes = Buffer.from(
      (await api(hub, 'GET', '/v1/federated/tasks/head/weights')).body.weights,
      'base64',
    );
    const final = decodeUpdate(finalBytes, shapes);
    const changed = final
      .filter((t, i) => t.values.some((v, k) => v !== (base.weights[i]?.values[k] as number)))
      .map((t) => t.name);
    assert.deepEqual(changed, HEAD);

    // Registered as ONNX fp32 and int8, each within its parity tolerance of the TF.js model.
    const version = task.best.version as string;
    assert.ok(version, JSON.stringify(task.best));
    const record = await registry.get('digits-cnn', version);
    assert.deepEqual(record.variants.map((v) => `${v.format}/${v.precision}`).sort(), [
      'onnx/fp32',
      'onnx/int8',
    ]);
    const registeredIn = rounds.find((r: { round: number }) => r.round === task.best.round).metrics
      .closedLoop;
    const parity = Object.fromEntries(
      registeredIn.variants.map((v: { precision: string; parity: Record<string, number> }) => [
        v.precision,
        v.parity,
      ]),
    );
    assert.ok(
      parity.fp32.ok && parity.fp32.maxAbsDiff < 1e-4 && parity.fp32.inputs === 200,
      JSON.stringify(parity),
    );
    assert.ok(parity.int8.ok && parity.int8.maxAbsDiff < 0.1, JSON.stringify(parity));
    t.diagnostic(
      `hub accuracy ${start} → ${end}; parity fp32 ${parity.fp32.maxAbsDiff}, int8 ${parity.int8.maxAbsDiff} (top-1 ${parity.int8.top1Agreement}); ${JSON.stringify(registeredIn.variants.map((v: { precision: string; bytes: number }) => [v.precision, v.bytes]))}`,
    );
    // The ONNX fp32 version is trainable: it reads back as the task's final model.
    const model = { modelTopology: base.modelTopology, weights: final };
    const loaded = await loadRegisteredModel(registry, 'digits-cnn', version);
    assert.deepEqual(
      decodeUpdate(Buffer.from(loaded.weights, 'base64'), shapes),
      decodeUpdate(finalBytes, shapes),
    );

    // Rolled out: every device activates it, in the precision its profile prefers.
    await waitFor(
      () =>
        devices.every((d) =>
          d.agent?.models.list().some((m) => m.name === 'digits-cnn' && m.active?.version === version),
        ),
      'both devices to run the fine-tuned version',
      40_000,
    );
    const digits = loadDigits(3, 750);
    const reference = softmax(await predictLogits(model, digits.pixels, 30));
    for (const [i, d] of devices.entries()) {
      const r = await d.agent?.models.infer('digits-cnn', {
        x: { dtype: 'float32', dims: [30, DIGIT_PIXELS], data: digits.pixels },
      });
      assert.equal(r?.version, version);
      assert.equal(r?.precision, i === 0 ? 'fp32' : 'int8');
      assert.equal(r?.engine, 'onnx:cpu');
      const probs = r?.outputs.probs?.data as Float32Array;
      let worst = 0;
      for (let k = 0; k < probs.length; k++)
        worst = Math.max(worst, Math.abs((probs[k] as number) - (reference[k] as number)));
      assert.ok(worst < (i === 0 ? 1e-4 : 0.1), `${r?.precision} on the device: max |Δp| ${worst}`);
      t.diagnostic(`${r?.precision} on device ${i}: max |Δp| ${worst} against TF.js`);
    }
  });
});
