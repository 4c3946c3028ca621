import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { buildMnistMlp, importOnnx, type LayersModel, trainLocal } from '../../federated/index.js';
import { createClosedLoop } from '../../hub/federated/closed-loop.js';
import { runClosedLoop } from '../../hub/federated/closed-loop-run.js';
import { type FlTaskSpec, FlTaskSpecSchema } from '../../hub/federated/task-spec.js';
import type { Hub } from '../../hub/index.js';
import type { FlTaskRecord } from '../../hub/store/federated-types.js';
import { DIGIT_PIXELS, loadDigits, unpackTfjsBundle } from '../../inference/index.js';
import { testLogger } from '../helpers/agent.js';
import { Cleanups, tempDir } from '../helpers/fixtures.js';
import { startHub } from '../helpers/hub.js';

// The closed loop's registration against a real hub registry: the variants each format
// gives, each registered only after its parity check on the task's hub-eval digits.

let model: LayersModel;
let hub: Hub;
const cleanups = new Cleanups();
before(async () => {
  const base = buildMnistMlp(9, { hidden: [16] });
  const d = loadDigits(10, 0);
  const r = await trainLocal({
    model: base,
    samples: { x: d.pixels, y: d.labels, count: 100, features: DIGIT_PIXELS },
    lr: 0.1,
    epochs: 1,
    batchSize: 10,
    seed: 1,
  });
  model = { modelTopology: base.modelTopology, weights: r.weights };
  const dir = tempDir('outpost-fl-loop-');
  cleanups.push(() => dir.remove());
  hub = await startHub(dir.path);
  cleanups.push(() => hub.close());
});
after(() => cleanups.run());

function specOf(name: string, closedLoop: Record<string, unknown>): FlTaskSpec {
  return {
    ...FlTaskSpecSchema.parse({ model: { name, version: '1.0.0' }, hubEval: { perClass: 10 }, closedLoop }),
    topology: model.modelTopology,
    shapes: model.weights.map((w) => ({ name: w.name, shape: w.shape })),
    weights: '',
  } as FlTaskSpec;
}

const task = (id: string): FlTaskRecord => ({
  id,
  spec: {},
  status: 'running',
  round: 1,
  serverState: null,
  best: null,
  reason: null,
  createdAt: 0,
  updatedAt: 0,
});

describe('closed-loop registration', () => {
  it('onnx (default): ONNX fp32 (trainable again) and int8, with their parity', async () => {
    const loop = createClosedLoop({ registry: hub.delivery.registry, log: testLogger() });
    const r = await loop.register({
      task: task('t1'),
      spec: specOf('loop-a', {}),
      round: 1,
      weights: model.weights,
      accuracy: 0.5,
    });
    assert.equal(r.version, '1.0.1');
    const record = await hub.delivery.registry.get('loop-a', '1.0.1');
    assert.deepEqual(record.variants.map((v) => `${v.format}/${v.precision}`).sort(), [
      'onnx/fp32',
      'onnx/int8',
    ]);
    assert.deepEqual(record.lineage, { parent: '1.0.0', round: 1, source: 'fl:t1' });
    const variants = r.variants as Array<{
      precision: string;
      parity: { ok: boolean; inputs: number; tolerance: number };
    }>;
    assert.deepEqual(
      variants.map((v) => [v.precision, v.parity.ok, v.parity.inputs, v.parity.tolerance]),
      [
        ['fp32', true, 100, 1e-4],
        ['int8', true, 100, 0.1],
      ],
    );
    const fp32 = record.variants.find((v) => v.precision === 'fp32');
    const back = importOnnx(await readArtifact(fp32?.sha256 as string));
    assert.deepEqual(back.weights, model.weights);
  });

  it('tfjs-layers: the TF.js bundle as fp32 and the ONNX int8', async () => {
    const loop = createClosedLoop({ registry: hub.delivery.registry, log: testLogger() });
    await loop.register({
      task: task('t2'),
      spec: specOf('loop-b', { format: 'tfjs-layers' }),
      round: 2,
      weights: model.weights,
      accuracy: 0.5,
    });
    const record = await hub.delivery.registry.get('loop-b', '1.0.1');
    assert.deepEqual(record.variants.map((v) => `${v.format}/${v.precision}`).sort(), [
      'onnx/int8',
      'tfjs-layers/fp32',
    ]);
    const fp32 = record.variants.find((v) => v.precision === 'fp32');
    assert.equal(unpackTfjsBundle(await readArtifact(fp32?.sha256 as string)).format, 'tfjs-layers');
  });

  it('an int8 out of tolerance leaves the version fp32 only; an fp32 out of tolerance registers nothing and keeps the previous best', async () => {
    const loop = createClosedLoop({ registry: hub.delivery.registry, log: testLogger() });
    const r = await loop.register({
      task: task('t3'),
      spec: specOf('loop-c', { parity: { int8: 1e-9 } }),
      round: 1,
      weights: model.weights,
      accuracy: 0.5,
    });
    assert.match(String(r.int8Error), /int8 differs from the TF\.js model by .* \(tolerance 1e-9\)/);
    const record = await hub.delivery.registry.get('loop-c', '1.0.1');
    assert.deepEqual(
      record.variants.map((v) => `${v.format}/${v.precision}`),
      ['onnx/fp32'],
    );

    const previous = { ...task('t4'), best: { round: 1, accuracy: 0.4, version: '1.0.1' } };
    const out = await runClosedLoop({
      hook: loop,
      log: testLogger(),
      task: previous,
      spec: specOf('loop-c', { parity: { fp32: 1e-12 } }),
      round: 2,
      weights: model.weights,
      hubEval: { accuracy: 0.6 },
      hubEvalStart: null,
      last: false,
    });
    assert.match(String(out.closedLoop?.error), /fp32 ONNX export differs from the TF\.js model/);
    assert.deepEqual(out.best, previous.best, 'the version registered before stays the best');
    assert.deepEqual(
      (await hub.delivery.registry.list('loop-c')).map((v) => v.version),
      ['1.0.1'],
    );
  });
});

async function readArtifact(sha256: string): Promise<Uint8Array> {
  const { readFile } = await import('node:fs/promises');
  return readFile(hub.delivery.registry.artifacts.pathOf(sha256));
}
