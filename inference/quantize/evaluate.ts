import { performance } from 'node:perf_hooks';
import { pino } from 'pino';
import { OutpostError } from '../../shared/index.js';
import { ENGINES } from '../engines/registry.js';
import type { LoadedModel } from '../engines/types.js';
import type { TensorMap } from '../tensor/host-tensor.js';

/** Size, speed and accuracy of a converted model against its fp32 original. */
export interface VariantEvaluation {
  /** File sizes, bytes. */
  originalBytes: number;
  variantBytes: number;
  /** Median wall time of one run over the input set on `onnx:cpu`, ms. */
  originalMs: number;
  variantMs: number;
  /** Largest |variant − original| over every float output element. */
  maxAbsDiff: number;
  /** Mean |variant − original| over every float output element. */
  meanAbsDiff: number;
  /** Share of inputs whose arg-max of the first output agrees (classification accuracy vs fp32), 0-1. */
  top1Agreement: number;
  /** How many input sets were compared. */
  samples: number;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;

function argmax(data: ArrayLike<number>, from: number, count: number): number {
  let best = from;
  for (let i = from; i < from + count; i++) if ((data[i] as number) > (data[best] as number)) best = i;
  return best - from;
}

async function open(bytes: Uint8Array, label: string): Promise<LoadedModel> {
  try {
    return await ENGINES['onnx:cpu'].load(
      { format: 'onnx', bytes },
      { intraOpThreads: 1, interOpThreads: 1, options: {}, log: pino({ level: 'silent' }) },
    );
  } catch (err) {
    throw new OutpostError(
      'INFER_MODEL_INVALID',
      `${label} does not open on onnx:cpu: ${(err as Error).message}`,
    );
  }
}

async function timeRuns(model: LoadedModel, inputs: TensorMap[], rounds: number): Promise<number> {
  const perRun: number[] = [];
  for (const set of inputs) await model.run(set); // warm-up
  for (let r = 0; r < rounds; r++) {
    const start = performance.now();
    for (const set of inputs) await model.run(set);
    perRun.push((performance.now() - start) / inputs.length);
  }
  return median(perRun);
}

/**
 * Runs the fp32 original and a variant on the same input sets with `onnx:cpu` (one thread)
 * and compares them: sizes, median time per run over `rounds` passes (default 5), output
 * differences and top-1 agreement of the first output's last axis (rows of a classifier's
 * logits or probabilities). Throws `INFER_MODEL_INVALID` when either model does not open.
 */
export async function evaluateVariant(
  original: Uint8Array,
  variant: Uint8Array,
  inputs: TensorMap[],
  rounds = 5,
): Promise<VariantEvaluation> {
  if (inputs.length === 0) throw new OutpostError('INFER_BAD_INPUT', 'the input set is empty');
  const a = await open(original, 'the original model');
  const b = await open(variant, 'the converted model');
  try {
    let maxAbs = 0;
    let sumAbs = 0;
    let count = 0;
    let agree = 0;
    let rows = 0;
    const first = a.signature.outputs[0]?.name ?? '';
    for (const set of inputs) {
      const [ya, yb] = [await a.run(set), await b.run(set)];
      for (const [name, ta] of Object.entries(ya)) {
        const tb = yb[name];
        if (!tb || Array.isArray(ta.data) || Array.isArray(tb.data) || ta.dtype !== 'float32') continue;
        for (let i = 0; i < ta.data.length; i++) {
          const d = Math.abs(Number(ta.data[i]) - Number(tb.data[i]));
          maxAbs = Math.max(maxAbs, Number.isNaN(d) ? Number.POSITIVE_INFINITY : d);
          sumAbs += d;
          count++;
        }
        if (name !== first) continue;
        const width = ta.dims[ta.dims.length - 1] ?? 1;
        for (let r = 0; r * width < ta.data.length; r++, rows++) {
          if (
            argmax(ta.data as ArrayLike<number>, r * width, width) ===
            argmax(tb.data as ArrayLike<number>, r * width, width)
          )
            agree++;
        }
      }
    }
    return {
      originalBytes: original.byteLength,
      variantBytes: variant.byteLength,
      originalMs: await timeRuns(a, inputs, rounds),
      variantMs: await timeRuns(b, inputs, rounds),
      maxAbsDiff: maxAbs,
      meanAbsDiff: count ? sumAbs / count : 0,
      top1Agreement: rows ? agree / rows : Number.NaN,
      samples: inputs.length,
    };
  } finally {
    await a.close();
    await b.close();
  }
}
