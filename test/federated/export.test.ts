import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { pino } from 'pino';
import {
  applyTrainableLayers,
  buildMnistCnn,
  buildMnistMlp,
  exportOnnx,
  exportServing,
  importOnnx,
  type LayersModel,
  mulberry32,
  parseLayerStack,
  predictLogits,
  stackWeightShapes,
  TOPOLOGY_METADATA,
  toTfjsArtifacts,
  trainLocal,
} from '../../federated/index.js';
import {
  DIGIT_PIXELS,
  decodeOnnxModel,
  type EngineSettings,
  encodeOnnxModel,
  engineNamed,
  loadDigits,
  parseTfjsModelJson,
} from '../../inference/index.js';

// A federated tfjs-layers model exported to ONNX (fp32 and int8) runs on
// onnxruntime with TF.js's outputs; both run through the project's own engines.

const settings: EngineSettings = {
  intraOpThreads: 1,
  interOpThreads: 1,
  options: {},
  log: pino({ level: 'silent' }),
};
const N = 60;
let model: LayersModel;
let x: Float32Array;

async function run(engine: string, source: Parameters<ReturnType<typeof engineNamed>['load']>[0]) {
  const loaded = await engineNamed(engine).load(source, settings);
  try {
    const out = await loaded.run({
      [loaded.signature.inputs[0]?.name ?? 'x']: { dtype: 'float32', dims: [N, DIGIT_PIXELS], data: x },
    });
    return out;
  } finally {
    await loaded.close();
  }
}

function tfjsSource(m: LayersModel) {
  const { modelJson, shard } = toTfjsArtifacts(m);
  const modelJsonBytes = new Uint8Array(Buffer.from(JSON.stringify(modelJson)));
  const { json } = parseTfjsModelJson(modelJsonBytes);
  return {
    format: 'tfjs-layers' as const,
    modelJsonBytes,
    modelJson: json,
    shards: new Map([['group1-shard1of1.bin', shard]]),
  };
}

before(async () => {
  const digits = loadDigits(20, 0);
  const base = buildMnistMlp(11, { hidden: [32, 16] });
  const trained = await trainLocal({
    model: base,
    samples: { x: digits.pixels, y: digits.labels, count: 200, features: DIGIT_PIXELS },
    lr: 0.1,
    epochs: 2,
    batchSize: 10,
    seed: 1,
  });
  model = { modelTopology: base.modelTopology, weights: trained.weights };
  x = loadDigits(6, 600).pixels;
});

describe('exportOnnx', () => {
  it('fp32 on onnxruntime matches TF.js (same weights, through the engines) within 1e-5', async () => {
    const fp32 = exportOnnx(model);
    const ort = await run('onnx:cpu', { format: 'onnx', bytes: fp32 });
    const tf = await run('tfjs:cpu', tfjsSource(model));
    const probs = ort.probs?.data as Float32Array;
    const tfProbs = Object.values(tf)[0]?.data as Float32Array;
    assert.equal(probs.length, N * 10);
    assert.equal(tfProbs.length, N * 10);
    let worst = 0;
    for (let k = 0; k < probs.length; k++)
      worst = Math.max(worst, Math.abs((probs[k] as number) - (tfProbs[k] as number)));
    assert.ok(worst < 1e-5, `max |Δp| ${worst}`);
    // logits are the pre-softmax values: softmax(logits) = probs.
    const logits = ort.logits?.data as Float32Array;
    const row = Array.from(logits.subarray(0, 10)).map(Math.exp);
    const z = row.reduce((a, b) => a + b, 0);
    row.forEach((v, k) => {
      assert.ok(Math.abs(v / z - (probs[k] as number)) < 1e-5);
    });
  });

  it('refuses weights that do not fit the topology', () => {
    assert.throws(
      () => exportOnnx({ ...model, weights: model.weights.slice(1) }),
      /do not match the topology/,
    );
  });
});

const layer = (class_name: string, config: Record<string, unknown>) => ({
  class_name,
  config: { trainable: true, dtype: 'float32', ...config },
});

/** Every layer kind and padding the exporter writes, with BatchNormalization statistics that matter. */
function everyLayerModel(): LayersModel {
  const topology = {
    class_name: 'Sequential',
    config: {
      name: 'every_layer',
      layers: [
        layer('Reshape', { name: 'image', target_shape: [28, 28, 1], batch_input_shape: [null, 784] }),
        layer('Conv2D', {
          name: 'c1',
          filters: 4,
          kernel_size: 5,
          strides: 1,
          padding: 'same',
          activation: 'relu',
        }),
        layer('BatchNormalization', { name: 'bn1', epsilon: 1e-3 }),
        layer('MaxPooling2D', { name: 'p1', pool_size: 3, strides: 2, padding: 'same' }),
        layer('Conv2D', {
          name: 'c2',
          filters: 6,
          kernel_size: 3,
          strides: 2,
          padding: 'same',
          activation: 'tanh',
        }),
        layer('AveragePooling2D', { name: 'p2', pool_size: 2, strides: 1, padding: 'same' }),
        layer('Conv2D', {
          name: 'c3',
          filters: 5,
          kernel_size: [2, 3],
          padding: 'valid',
          activation: 'sigmoid',
          use_bias: false,
        }),
        layer('Flatten', { name: 'flat' }),
        layer('Dense', { name: 'd1', units: 16, activation: 'relu' }),
        layer('BatchNormalization', { name: 'bn2', epsilon: 1e-3, center: false }),
        layer('Dropout', { name: 'drop', rate: 0.5 }),
        layer('Dense', { name: 'out', units: 10, activation: 'softmax' }),
      ],
    },
  };
  const random = mulberry32(21);
  const weights = stackWeightShapes(parseLayerStack(topology)).map(({ name, shape }) => {
    const values = new Float32Array(shape.reduce((a, b) => a * b, 1));
    for (let k = 0; k < values.length; k++) {
      if (/moving_variance|gamma/.test(name)) values[k] = 0.5 + random();
      else if (/moving_mean|beta|bias/.test(name)) values[k] = (random() - 0.5) * 0.3;
      else values[k] = (random() * 2 - 1) * 0.5;
    }
    return { name, shape, values };
  });
  return { modelTopology: topology, weights };
}

function maxAbs(a: Float32Array, b: Float32Array): number {
  let worst = 0;
  for (let k = 0; k < a.length; k++) worst = Math.max(worst, Math.abs((a[k] as number) - (b[k] as number)));
  return worst;
}

describe('exportOnnx of CNNs', () => {
  it('Conv (same/valid, strides 1 and 2), max/average pooling, BatchNormalization, Flatten, Dropout: onnxruntime computes what TF.js does', async () => {
    const m = everyLayerModel();
    const bytes = exportOnnx(m);
    const graph = decodeOnnxModel(bytes).graph;
    const ops = (graph?.node ?? []).map((n) => n.opType);
    for (const op of [
      'Conv',
      'MaxPool',
      'AveragePool',
      'BatchNormalization',
      'Transpose',
      'Reshape',
      'MatMul',
      'Softmax',
    ])
      assert.ok(ops.includes(op), `${op} in ${ops.join(' ')}`);
    const ort = await run('onnx:cpu', { format: 'onnx', bytes });
    const tf = await run('tfjs:cpu', tfjsSource(m));
    const probs = ort.probs?.data as Float32Array;
    assert.ok(maxAbs(probs, Object.values(tf)[0]?.data as Float32Array) < 1e-5);
    const logits = await predictLogits(m, x, N, 'cpu');
    assert.ok(maxAbs(ort.logits?.data as Float32Array, logits) < 1e-4);
  });

  it('importOnnx reads the exported model back bit for bit (topology from its metadata)', () => {
    const m = everyLayerModel();
    const bytes = exportOnnx(m);
    const meta = decodeOnnxModel(bytes).metadataProps?.find((p) => p.key === TOPOLOGY_METADATA);
    assert.deepEqual(JSON.parse(meta?.value ?? 'null'), m.modelTopology);
    const back = importOnnx(bytes);
    assert.deepEqual(back.modelTopology, m.modelTopology);
    assert.deepEqual(
      back.weights.map((w) => [w.name, w.shape]),
      m.weights.map((w) => [w.name, w.shape]),
    );
    back.weights.forEach((w, i) => {
      assert.deepEqual(w.values, m.weights[i]?.values, w.name);
    });
    assert.throws(() => importOnnx(exportedWithoutMetadata()), /carries no outpost\.tfjs-layers\.topology/);
  });
});

/** An ONNX model the federated exporter did not write. */
function exportedWithoutMetadata(): Uint8Array {
  const model = decodeOnnxModel(exportOnnx(buildMnistMlp(1, { hidden: [4] })));
  model.metadataProps = [];
  return encodeOnnxModel(model);
}

describe('exportServing: parity on real digits before registration', () => {
  it('a fine-tuned CNN: fp32 within 1e-4 and int8 (the project quantizer) within 0.1 of TF.js in probability', async () => {
    const base = buildMnistCnn(4, { filters: [4, 8], kernel: 3, dense: 16, batchNorm: true, dropout: 0.2 });
    const digits = loadDigits(10, 0);
    const samples = { x: digits.pixels, y: digits.labels, count: 100, features: DIGIT_PIXELS };
    const pre = await trainLocal({ model: base, samples, lr: 0.05, epochs: 1, batchSize: 10, seed: 2 });
    // The head alone, as a fine-tuning task trains it.
    const { topology } = applyTrainableLayers(base.modelTopology, { last: 2 });
    const tuned = await trainLocal({
      model: { modelTopology: topology, weights: pre.weights },
      samples,
      lr: 0.05,
      epochs: 1,
      batchSize: 10,
      seed: 3,
    });
    const model = { modelTopology: topology, weights: tuned.weights };
    const held = loadDigits(10, 700);
    const r = await exportServing(model, { inputs: held.pixels, count: 100, name: 'digits-cnn' });
    assert.equal(r.parity.fp32.inputs, 100);
    assert.ok(r.parity.fp32.ok && r.parity.fp32.maxAbsDiff < 1e-4, JSON.stringify(r.parity.fp32));
    assert.equal(r.parity.fp32.top1Agreement, 1);
    assert.ok(r.int8, r.int8Error);
    assert.ok(
      r.parity.int8?.ok && (r.parity.int8?.maxAbsDiff as number) < 0.1,
      JSON.stringify(r.parity.int8),
    );
    assert.ok((r.parity.int8?.top1Agreement as number) >= 0.95, JSON.stringify(r.parity.int8));
    assert.match(r.int8?.summary ?? '', /conv_0\/kernel/);
    assert.ok(
      (r.int8?.bytes.length as number) < r.fp32.length / 2,
      `${r.int8?.bytes.length} vs ${r.fp32.length}`,
    );
    // The int8 variant runs through the engines like any model and answers the same classes.
    const out = await run('onnx:cpu', { format: 'onnx', bytes: r.int8?.bytes as Uint8Array });
    assert.equal(out.probs?.data.length, N * 10);
  });

  it('an export that does not compute the model is refused (FL_EXPORT_PARITY), and an int8 out of tolerance is left out', async () => {
    const m = buildMnistMlp(5, { hidden: [8] });
    const held = loadDigits(3, 700);
    await assert.rejects(
      exportServing(m, { inputs: held.pixels, count: 30, tolerance: { fp32: -1 } }),
      (err: Error & { code?: string }) =>
        err.code === 'FL_EXPORT_PARITY' && /differs from the TF\.js model/.test(err.message),
    );
    const r = await exportServing(m, { inputs: held.pixels, count: 30, tolerance: { int8: 0 } });
    assert.equal(r.int8, null);
    assert.match(r.int8Error ?? '', /int8 differs from the TF\.js model by .* \(tolerance 0\)/);
    assert.ok(r.parity.int8 && !r.parity.int8.ok);
  });
});
