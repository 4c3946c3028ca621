import type { HostTensor, TensorMap } from '../../inference/index.js';
import { firstObservedRow, observedStride } from './observed-rows.js';

/** Outputs larger than this (elements) are not scanned for confidence or agreement (cost). */
export const MAX_SCANNED_ELEMENTS = 65_536;

/** Tolerance of {@link answersAgree} for outputs that are not class scores. */
export const AGREEMENT_TOLERANCE = { abs: 1e-3, rel: 1e-2 } as const;

type FloatTensor = HostTensor & { data: Float32Array | Float64Array };

function isFloat(t: HostTensor | undefined): t is FloatTensor {
  return t !== undefined && (t.dtype === 'float32' || t.dtype === 'float64');
}

/**
 * The class-score output of a result and its name: the first float output (in the model's
 * output order) whose last axis has at least 2 entries (one per class), small enough to
 * scan. Undefined when the model has none (a regression, a detector's boxes, an embedding…).
 */
export function classOutput(outputs: TensorMap): { name: string; tensor: FloatTensor } | undefined {
  for (const [name, t] of Object.entries(outputs)) {
    if (!isFloat(t) || t.data.length > MAX_SCANNED_ELEMENTS || t.data.length === 0) continue;
    const last = t.dims[t.dims.length - 1] ?? 1;
    if (last >= 2 && t.data.length % last === 0) return { name, tensor: t };
  }
  return undefined;
}

/**
 * Confidence of one row of class scores, in [0, 1] ("mean confidence"):
 * when the row already is a probability distribution (every value in [0, 1], sum within
 * 1e-3 of 1) its largest value; otherwise the row is taken as logits and the confidence is
 * the largest softmax value, `1 / Σ exp(x_i − max)`.
 */
export function rowConfidence(data: Float32Array | Float64Array, start: number, width: number): number {
  let max = Number.NEGATIVE_INFINITY;
  let sum = 0;
  let probabilities = true;
  for (let i = start; i < start + width; i++) {
    const v = data[i] as number;
    if (v > max) max = v;
    sum += v;
    if (!(v >= 0 && v <= 1)) probabilities = false;
  }
  if (!Number.isFinite(max)) return 0;
  if (probabilities && Math.abs(sum - 1) <= 1e-3) return max;
  let denom = 0;
  for (let i = start; i < start + width; i++) denom += Math.exp((data[i] as number) - max);
  return denom > 0 && Number.isFinite(denom) ? 1 / denom : 0;
}

/** Rows of logits turned into a softmax confidence per call, at most (cost bound; evenly spaced). */
export const MAX_SOFTMAX_ROWS = 8;

function isDistribution(data: Float32Array | Float64Array, start: number, width: number): boolean {
  let sum = 0;
  for (let i = start; i < start + width; i++) {
    const v = data[i] as number;
    if (!(v >= 0 && v <= 1)) return false;
    sum += v;
  }
  return Math.abs(sum - 1) <= 1e-3;
}

/**
 * Adds the confidence of a result's rows to `into` (sum, count of rows). The source is the
 * first float output with a class axis whose first row is a probability distribution (then
 * each observed row's largest value counts: one pass, no exponentials); failing that, the
 * first class output read as logits, of which at most {@link MAX_SOFTMAX_ROWS} evenly spaced
 * rows get a softmax. A large batch is read as an even sample of rows (`observed-rows.ts`),
 * rotating with `turn` (a counter that grows by one a call), so the cost stays flat with the
 * batch. A model without a class output adds nothing.
 */
export function accumulateConfidence(
  outputs: TensorMap,
  into: { sum: number; count: number },
  turn = 0,
): void {
  let logits: FloatTensor | undefined;
  // `for in` over the map, not Object.values: no array per call.
  for (const name in outputs) {
    const t = outputs[name];
    if (!isFloat(t)) continue;
    const data = t.data;
    const length = data.length;
    if (length > MAX_SCANNED_ELEMENTS || length === 0) continue;
    const width = t.dims[t.dims.length - 1] ?? 1;
    if (width < 2 || length % width !== 0) continue;
    if (isDistribution(data, 0, width)) {
      const stride = observedStride(length / width);
      const step = stride * width;
      for (let start = firstObservedRow(turn, stride) * width; start < length; start += step) {
        let max = data[start] as number;
        for (let i = start + 1; i < start + width; i++) {
          const v = data[i] as number;
          if (v > max) max = v;
        }
        into.sum += max;
        into.count++;
      }
      return;
    }
    logits ??= t;
  }
  if (logits === undefined) return;
  const width = logits.dims[logits.dims.length - 1] as number;
  const rows = logits.data.length / width;
  const step = Math.max(1, Math.ceil(rows / MAX_SOFTMAX_ROWS));
  for (let row = firstObservedRow(turn, step); row < rows; row += step) {
    into.sum += rowConfidence(logits.data, row * width, width);
    into.count++;
  }
}

function argmaxRows(t: FloatTensor): number[] {
  const width = t.dims[t.dims.length - 1] as number;
  const out: number[] = [];
  for (let start = 0; start < t.data.length; start += width) {
    let best = start;
    for (let i = start + 1; i < start + width; i++)
      if ((t.data[i] as number) > (t.data[best] as number)) best = i;
    out.push(best - start);
  }
  return out;
}

function sameDims(a: HostTensor, b: HostTensor): boolean {
  return a.dims.length === b.dims.length && a.dims.every((d, i) => d === b.dims[i]);
}

/**
 * Whether a shadow answer agrees with the active answer on the same inputs:
 * - both have the same class output (name and shape) → every row has the same top class;
 * - otherwise every float output of the active answer is present in the shadow answer with
 *   the same dims and each element within `abs + rel·|active|` ({@link AGREEMENT_TOLERANCE});
 *   non-float outputs must be equal element by element.
 * Different output names or shapes never agree.
 */
export function answersAgree(active: TensorMap, shadow: TensorMap): boolean {
  const a = classOutput(active);
  const b = classOutput(shadow);
  if (a && b && a.name === b.name && sameDims(a.tensor, b.tensor)) {
    const ra = argmaxRows(a.tensor);
    const rb = argmaxRows(b.tensor);
    return ra.every((v, i) => v === rb[i]);
  }
  for (const [name, ta] of Object.entries(active)) {
    const tb = shadow[name];
    if (tb === undefined || ta.dtype !== tb.dtype || !sameDims(ta, tb)) return false;
    if (ta.data.length > MAX_SCANNED_ELEMENTS) continue;
    for (let i = 0; i < ta.data.length; i++) {
      const x = ta.data[i];
      const y = tb.data[i];
      if (typeof x === 'number' && typeof y === 'number' && isFloat(ta)) {
        if (!(Math.abs(x - y) <= AGREEMENT_TOLERANCE.abs + AGREEMENT_TOLERANCE.rel * Math.abs(x)))
          return false;
      } else if (x !== y) return false;
    }
  }
  return true;
}
