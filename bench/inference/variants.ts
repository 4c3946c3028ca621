import { pino } from 'pino';
import {
  convertFp16,
  DIGIT_PIXELS,
  type DigitSet,
  ENGINES,
  evaluateVariant,
  quantizeInt8,
  type TensorMap,
} from '../../inference/index.js';

/** One variant's figures against fp32. */
export interface VariantFigures {
  precision: 'fp32' | 'int8' | 'fp16';
  bytes: number;
  ms: number;
  /** Top-1 accuracy against the true labels, 0-1. */
  accuracy: number;
  /** Top-1 agreement with fp32, 0-1. */
  agreement: number;
  maxAbsDiff: number;
}

async function accuracyOf(bytes: Uint8Array, set: DigitSet): Promise<number> {
  const model = await ENGINES['onnx:cpu'].load(
    { format: 'onnx', bytes },
    { intraOpThreads: 1, interOpThreads: 1, options: {}, log: pino({ level: 'silent' }) },
  );
  const n = set.labels.length;
  const out = await model.run({ x: { dtype: 'float32', dims: [n, DIGIT_PIXELS], data: set.pixels } });
  await model.close();
  const logits = out.logits?.data as Float32Array;
  let correct = 0;
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let k = 1; k < 10; k++)
      if ((logits[i * 10 + k] as number) > (logits[i * 10 + best] as number)) best = k;
    if (best === set.labels[i]) correct++;
  }
  return correct / n;
}

/** fp32, int8 (per-channel weight-only) and fp16 of the same model: size, speed on `inputs`, accuracy on `set`. */
export async function measureVariants(
  bytes: Uint8Array,
  inputs: TensorMap[],
  set: DigitSet,
  rounds: number,
): Promise<VariantFigures[]> {
  const fp32Accuracy = await accuracyOf(bytes, set);
  const rows: VariantFigures[] = [];
  for (const [precision, variant] of [
    ['int8', quantizeInt8(bytes).bytes],
    ['fp16', convertFp16(bytes).bytes],
  ] as const) {
    const e = await evaluateVariant(bytes, variant, inputs, rounds);
    if (rows.length === 0) {
      rows.push({
        precision: 'fp32',
        bytes: e.originalBytes,
        ms: e.originalMs,
        accuracy: fp32Accuracy,
        agreement: 1,
        maxAbsDiff: 0,
      });
    }
    rows.push({
      precision,
      bytes: e.variantBytes,
      ms: e.variantMs,
      accuracy: await accuracyOf(variant, set),
      agreement: e.top1Agreement,
      maxAbsDiff: e.maxAbsDiff,
    });
  }
  return rows;
}
