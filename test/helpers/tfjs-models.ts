import * as tf from '@tensorflow/tfjs';
import { toHalfArray } from '../../inference/index.js';
import { writeModel } from './models.js';

type Spec = { name: string; shape: number[]; dtype: string; quantization?: Record<string, unknown> };
export type WeightQuantization = 'none' | 'uint8' | 'float16';

/** Float weights as stored under a quantization, and the values TF.js will dequantize them to. */
function quantize(
  values: Float32Array,
  mode: WeightQuantization,
): { bytes: Uint8Array; dequantized: Float32Array; quantization?: Record<string, unknown> } {
  if (mode === 'none') return { bytes: new Uint8Array(values.buffer.slice(0)), dequantized: values };
  if (mode === 'float16') {
    const half = toHalfArray(values);
    const back = Float32Array.from(half, (h) => {
      const v = new Float32Array(1);
      v[0] = ((): number => {
        const s = h & 0x8000 ? -1 : 1;
        const e = (h >>> 10) & 0x1f;
        const m = h & 0x3ff;
        return e === 0 ? s * m * 2 ** -24 : s * (1 + m / 1024) * 2 ** (e - 15);
      })();
      return v[0] as number;
    });
    return { bytes: new Uint8Array(half.buffer), dequantized: back, quantization: { dtype: 'float16' } };
  }
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  for (const v of values) {
    min = Math.min(min, v);
    max = Math.max(max, v);
  }
  const scale = (max - min) / 255 || 1;
  const q = Uint8Array.from(values, (v) => Math.round((v - min) / scale));
  return {
    bytes: q,
    dequantized: Float32Array.from(q, (x) => x * scale + min),
    quantization: { dtype: 'uint8', scale, min },
  };
}

/** Writes `model.json` + `weights.bin` with the given weights, quantized per `mode`. */
function writeTfjs(
  dir: string,
  json: Record<string, unknown>,
  weights: Array<[Spec, Float32Array]>,
  mode: WeightQuantization,
) {
  const parts: Uint8Array[] = [];
  const specs: Spec[] = [];
  const dequantized: Record<string, Float32Array> = {};
  for (const [spec, values] of weights) {
    const q = quantize(values, mode);
    parts.push(q.bytes);
    specs.push(q.quantization ? { ...spec, quantization: q.quantization } : spec);
    dequantized[spec.name] = q.dequantized;
  }
  writeModel(dir, 'weights.bin', Buffer.concat(parts));
  const path = writeModel(
    dir,
    'model.json',
    JSON.stringify({ ...json, weightsManifest: [{ paths: ['weights.bin'], weights: specs }] }),
  );
  return { path, dequantized };
}

/**
 * A TF.js layers model (Dense 4→3) made with tfjs itself and saved through a save handler,
 * then written as model.json + one shard with its weights quantized per `mode`.
 */
export async function writeLayersModel(
  dir: string,
  w: Float32Array,
  b: Float32Array,
  mode: WeightQuantization,
) {
  const model = tf.sequential({ layers: [tf.layers.dense({ units: 3, inputShape: [4], name: 'dense' })] });
  model.setWeights([tf.tensor2d(w, [4, 3]), tf.tensor1d(b)]);
  let saved: tf.io.ModelArtifacts | undefined;
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      saved = artifacts;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  model.dispose();
  if (!saved?.weightSpecs) throw new Error('tfjs saved no weights');
  const data = new Float32Array(saved.weightData as ArrayBuffer);
  let offset = 0;
  const weights: Array<[Spec, Float32Array]> = saved.weightSpecs.map((spec) => {
    const n = spec.shape.reduce((a, c) => a * c, 1);
    const values = data.slice(offset, offset + n);
    offset += n;
    return [{ name: spec.name, shape: spec.shape, dtype: spec.dtype }, values];
  });
  return writeTfjs(
    dir,
    { format: 'layers-model', generatedBy: 'outpost tests', modelTopology: saved.modelTopology },
    weights,
    mode,
  );
}

const shape = (dims: number[]) => ({ dim: dims.map((d) => ({ size: String(d) })) });

/** A TF.js graph model (GraphDef JSON: Placeholder → MatMul → AddV2 → Relu), weights per `mode`. */
export function writeGraphModel(dir: string, w: Float32Array, b: Float32Array, mode: WeightQuantization) {
  const float = { type: 'DT_FLOAT' };
  const constant = (name: string, dims: number[]) => ({
    name,
    op: 'Const',
    attr: { value: { tensor: { dtype: 'DT_FLOAT', tensorShape: shape(dims) } }, dtype: float },
  });
  const topology = {
    node: [
      { name: 'x', op: 'Placeholder', attr: { dtype: float, shape: { shape: shape([-1, 4]) } } },
      constant('w', [4, 3]),
      constant('b', [3]),
      {
        name: 'mm',
        op: 'MatMul',
        input: ['x', 'w'],
        attr: { T: float, transpose_a: { b: false }, transpose_b: { b: false } },
      },
      { name: 'add', op: 'AddV2', input: ['mm', 'b'], attr: { T: float } },
      { name: 'y', op: 'Relu', input: ['add'], attr: { T: float } },
    ],
    library: {},
    versions: { producer: 1 },
  };
  return writeTfjs(
    dir,
    { format: 'graph-model', generatedBy: 'outpost tests', convertedBy: null, modelTopology: topology },
    [
      [{ name: 'w', shape: [4, 3], dtype: 'float32' }, w],
      [{ name: 'b', shape: [3], dtype: 'float32' }, b],
    ],
    mode,
  );
}
