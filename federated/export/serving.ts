import { pino } from 'pino';
import { ENGINES, quantizeModelInt8, type TensorMap } from '../../inference/index.js';
import { OutpostError } from '../../shared/index.js';
import { parseLayerStack } from '../trainer/layers.js';
import type { TrainBackend } from '../trainer/tf.js';
import { predictLogits } from '../trainer/train.js';
import type { LayersModel } from '../types.js';
import { exportOnnx } from './onnx.js';

/** Default parity tolerances: largest |Δ probability| allowed against the TF.js model. */
export const PARITY_TOLERANCE = { fp32: 1e-4, int8: 0.1 } as const;

/** How an exported variant compares with the trained model on the same real inputs. */
export interface ParityReport {
  precision: 'fp32' | 'int8';
  /** Input rows compared. */
  inputs: number;
  /** Largest |p_onnx − p_tfjs| over every row and class (softmax probabilities). */
  maxAbsDiff: number;
  /** Largest |Δ| of the logits (before the softmax). */
  maxLogitDiff: number;
  /** Share of rows whose top class agrees. */
  top1Agreement: number;
  /** The bound `maxAbsDiff` had to stay under. */
  tolerance: number;
  ok: boolean;
}

/** Options of {@link exportServing}. */
export interface ServingOptions {
  /** Graph name (default `federated`). */
  name?: string;
  /** Real inputs: `count` flat rows the model takes (the parity set; the int8 calibration set). */
  inputs: Float32Array;
  count: number;
  /** Parity tolerances on probabilities (defaults {@link PARITY_TOLERANCE}). */
  tolerance?: { fp32?: number; int8?: number };
  /** Build the int8 variant (default true). */
  int8?: boolean;
  /** TF.js backend of the reference (default: the trainer's). */
  backend?: TrainBackend;
}

/** The ONNX serving variants of a trained model, each checked against it. */
export interface ServingExport {
  fp32: Uint8Array;
  /** The int8 variant (the project's quantizer), or null when not built or not within tolerance. */
  int8: { bytes: Uint8Array; summary: string } | null;
  parity: { fp32: ParityReport; int8?: ParityReport };
  /** Why there is no int8 variant. */
  int8Error?: string;
}

function softmaxRows(logits: Float32Array, classes: number): Float32Array {
  const out = new Float32Array(logits.length);
  for (let r = 0; r < logits.length / classes; r++) {
    const row = logits.subarray(r * classes, (r + 1) * classes);
    const m = Math.max(...row);
    let z = 0;
    for (let k = 0; k < classes; k++) z += Math.exp((row[k] as number) - m);
    for (let k = 0; k < classes; k++) out[r * classes + k] = Math.exp((row[k] as number) - m) / z;
  }
  return out;
}

const argmax = (a: Float32Array, r: number, n: number) => {
  let best = 0;
  for (let k = 1; k < n; k++) if ((a[r * n + k] as number) > (a[r * n + best] as number)) best = k;
  return best;
};

/** The logits of an ONNX export on `onnx:cpu` for `count` rows, in batches of 250. */
async function onnxLogits(
  bytes: Uint8Array,
  x: Float32Array,
  count: number,
  input: number[],
): Promise<Float32Array> {
  const loaded = await ENGINES['onnx:cpu'].load(
    { format: 'onnx', bytes },
    { intraOpThreads: 1, interOpThreads: 1, options: {}, log: pino({ level: 'silent' }) },
  );
  const features = input.reduce((a, b) => a * b, 1);
  const parts: Float32Array[] = [];
  try {
    for (let from = 0; from < count; from += 250) {
      const n = Math.min(250, count - from);
      const out = await loaded.run({
        x: { dtype: 'float32', dims: [n, ...input], data: x.slice(from * features, (from + n) * features) },
      });
      const logits = out.logits?.data;
      if (!(logits instanceof Float32Array)) throw new Error('the export has no float32 logits output');
      parts.push(logits);
    }
  } finally {
    await loaded.close();
  }
  const all = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    all.set(p, at);
    at += p.length;
  }
  return all;
}

function compare(
  precision: ParityReport['precision'],
  reference: Float32Array,
  logits: Float32Array,
  classes: number,
  tolerance: number,
): ParityReport {
  const rows = reference.length / classes;
  const [p, q] = [softmaxRows(reference, classes), softmaxRows(logits, classes)];
  let maxAbsDiff = 0;
  let maxLogitDiff = 0;
  let agree = 0;
  for (let k = 0; k < p.length; k++) {
    const d = Math.abs((p[k] as number) - (q[k] as number));
    const dl = Math.abs((reference[k] as number) - (logits[k] as number));
    maxAbsDiff = Math.max(maxAbsDiff, Number.isNaN(d) ? Number.POSITIVE_INFINITY : d);
    maxLogitDiff = Math.max(maxLogitDiff, Number.isNaN(dl) ? Number.POSITIVE_INFINITY : dl);
  }
  for (let r = 0; r < rows; r++) if (argmax(p, r, classes) === argmax(q, r, classes)) agree++;
  return {
    precision,
    inputs: rows,
    maxAbsDiff,
    maxLogitDiff,
    top1Agreement: agree / rows,
    tolerance,
    ok: maxAbsDiff <= tolerance,
  };
}

/**
 * The serving variants of a trained model, each checked on real inputs before anyone
 * registers it: fp32 = {@link exportOnnx}; int8 = that graph through the project's quantizer
 * (`quantizeModelInt8`, what `outpost models quantize --int8` runs: activation ranges
 * calibrated on the inputs, per-channel int8 weights, the faster of static and dynamic).
 * Each runs on onnxruntime (`onnx:cpu`) over the inputs and is compared with the TF.js model
 * (the trainer's own forward pass, inference mode): the largest |Δ probability| must stay
 * under its tolerance. Throws `FL_EXPORT_PARITY` (the report in `details`) when fp32 does
 * not; an int8 variant that fails its quantization or its parity is left out, the reason in
 * `int8Error`.
 */
export async function exportServing(model: LayersModel, options: ServingOptions): Promise<ServingExport> {
  const stack = parseLayerStack(model.modelTopology);
  const tolerance = { ...PARITY_TOLERANCE, ...options.tolerance };
  const fp32 = exportOnnx(model, options.name !== undefined ? { name: options.name } : {});
  const reference = await predictLogits(model, options.inputs, options.count, options.backend);
  const classes = stack.classes;
  const fp32Parity = compare(
    'fp32',
    reference,
    await onnxLogits(fp32, options.inputs, options.count, stack.input),
    classes,
    tolerance.fp32,
  );
  if (!fp32Parity.ok)
    throw new OutpostError(
      'FL_EXPORT_PARITY',
      `the fp32 ONNX export differs from the TF.js model by ${fp32Parity.maxAbsDiff} in probability (tolerance ${tolerance.fp32}) over ${fp32Parity.inputs} inputs`,
      { details: { parity: fp32Parity } },
    );
  const result: ServingExport = { fp32, int8: null, parity: { fp32: fp32Parity } };
  if (options.int8 === false) return result;
  const features = stack.input.reduce((a, b) => a * b, 1);
  const sets: TensorMap[] = [];
  for (let from = 0; from < Math.min(options.count, 80); from += 10) {
    const n = Math.min(10, options.count - from);
    sets.push({
      x: {
        dtype: 'float32',
        dims: [n, ...stack.input],
        data: options.inputs.slice(from * features, (from + n) * features),
      },
    });
  }
  try {
    const q = await quantizeModelInt8(fp32, { inputs: sets });
    const parity = compare(
      'int8',
      reference,
      await onnxLogits(q.bytes, options.inputs, options.count, stack.input),
      classes,
      tolerance.int8,
    );
    result.parity.int8 = parity;
    const skipped = q.skipped.map((s) => `${s.node} (${s.reason})`).join(', ');
    const summary = `${q.mode} int8; int8 weights: ${q.quantized.join(', ') || 'none'}${skipped ? `; left float32: ${skipped}` : ''}`;
    if (parity.ok) result.int8 = { bytes: q.bytes, summary };
    else
      result.int8Error = `int8 differs from the TF.js model by ${parity.maxAbsDiff} in probability (tolerance ${tolerance.int8})`;
  } catch (err) {
    result.int8Error = `int8 quantization failed: ${(err as Error).message}`;
  }
  return result;
}
