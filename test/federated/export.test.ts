import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { pino } from 'pino';
import {
  buildMnistMlp,
  exportOnnx,
  type LayersModel,
  toTfjsArtifacts,
  trainLocal,
} from '../../federated/index.js';
import {
  DIGIT_PIXELS,
  type EngineSettings,
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

const argmax = (p: Float32Array, row: number) => {
  const r = Array.from(p.subarray(row * 10, row * 10 + 10));
  return r.indexOf(Math.max(...r));
};

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
    const { fp32 } = exportOnnx(model);
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

  it('int8 is about 4× smaller and agrees with fp32 on the top class', async () => {
    const { fp32, int8 } = exportOnnx(model);
    assert.ok(int8.bytes.length < fp32.length / 3, `${int8.bytes.length} vs ${fp32.length} bytes`);
    assert.match(int8.summary, /int8 weights: dense_0\/kernel/);
    const a = (await run('onnx:cpu', { format: 'onnx', bytes: fp32 })).probs?.data as Float32Array;
    const b = (await run('onnx:cpu', { format: 'onnx', bytes: int8.bytes })).probs?.data as Float32Array;
    let agree = 0;
    let worst = 0;
    for (let i = 0; i < N; i++) if (argmax(a, i) === argmax(b, i)) agree++;
    for (let k = 0; k < a.length; k++) worst = Math.max(worst, Math.abs((a[k] as number) - (b[k] as number)));
    assert.ok(agree / N >= 0.95, `top-1 agreement ${agree}/${N}`);
    assert.ok(worst < 0.05, `max |Δp| ${worst}`);
  });

  it('refuses weights that do not fit the topology', () => {
    assert.throws(
      () => exportOnnx({ ...model, weights: model.weights.slice(1) }),
      /do not match the topology/,
    );
  });
});
