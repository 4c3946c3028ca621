import type { ModelWeights, ValidateOptions, ValidationResult } from './types.js';
import { sizeOf, type TensorShape } from './weights.js';

function describe(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

/**
 * The structural part of {@link validateUpdate}: the tensor list matches `expected` (count,
 * names, shapes, value counts) → `shape`. Never throws.
 */
export function checkStructure(delta: ModelWeights, expected: ReadonlyArray<TensorShape>): ValidationResult {
  if (!Array.isArray(delta))
    return { ok: false, reason: 'shape', detail: 'the update is not a list of tensors' };
  if (delta.length !== expected.length) {
    return {
      ok: false,
      reason: 'shape',
      detail: `${delta.length} tensors; the model has ${expected.length}`,
    };
  }
  for (let i = 0; i < expected.length; i++) {
    const e = expected[i] as TensorShape;
    const t = delta[i];
    if (!t || !(t.values instanceof Float32Array) || !Array.isArray(t.shape)) {
      return { ok: false, reason: 'shape', detail: `tensor ${i} (${e.name}) is not a float32 tensor` };
    }
    if (t.name !== e.name) {
      return {
        ok: false,
        reason: 'shape',
        detail: `tensor ${i} is named ${JSON.stringify(t.name)}, expected ${JSON.stringify(e.name)}`,
      };
    }
    const sameDims = t.shape.length === e.shape.length && t.shape.every((d, k) => d === e.shape[k]);
    if (!sameDims) {
      return {
        ok: false,
        reason: 'shape',
        detail: `${e.name} has shape ${describe(t.shape)}, expected ${describe(e.shape)}`,
      };
    }
    if (t.values.length !== sizeOf(e.shape)) {
      return {
        ok: false,
        reason: 'shape',
        detail: `${e.name} has ${t.values.length} values for shape ${describe(e.shape)}`,
      };
    }
  }
  return { ok: true };
}

/**
 * Sum of squares of every value, in float64 over four interleaved partial sums (so the adds
 * do not wait on each other). Any NaN or ±Infinity makes it non-finite; finite float32
 * squares cannot overflow a float64 sum.
 */
export function sumOfSquares(delta: ModelWeights): number {
  let total = 0;
  for (const t of delta) {
    const v = t.values;
    let s0 = 0;
    let s1 = 0;
    let s2 = 0;
    let s3 = 0;
    const n4 = v.length - (v.length % 4);
    for (let k = 0; k < n4; k += 4) {
      const a = v[k] as number;
      const b = v[k + 1] as number;
      const c = v[k + 2] as number;
      const d = v[k + 3] as number;
      s0 += a * a;
      s1 += b * b;
      s2 += c * c;
      s3 += d * d;
    }
    for (let k = n4; k < v.length; k++) s0 += (v[k] as number) ** 2;
    total += s0 + s1 + s2 + s3;
  }
  return total;
}

/**
 * The value part of {@link validateUpdate}, given the update's sum of squares (computed by
 * {@link sumOfSquares} or by a pass that also does other work): a non-finite sum means some
 * value is NaN or ±Infinity, and only then is the update scanned to name it → `non-finite`;
 * the L2 norm above `maxNorm` → `norm`.
 */
export function judgeValues(delta: ModelWeights, sumSquares: number, maxNorm: number): ValidationResult {
  if (!Number.isFinite(sumSquares)) {
    for (const t of delta) {
      const k = t.values.findIndex((x) => !Number.isFinite(x));
      if (k >= 0) return { ok: false, reason: 'non-finite', detail: `${t.name}[${k}] is ${t.values[k]}` };
    }
  }
  const norm = Math.sqrt(sumSquares);
  if (!(norm <= maxNorm)) {
    return {
      ok: false,
      reason: 'norm',
      detail: `L2 norm ${norm.toPrecision(6)} exceeds the bound ${maxNorm}`,
    };
  }
  return { ok: true };
}

/**
 * Checks an update before any math touches it, in this order: the tensor
 * list matches `expected` (count, names, shapes, value counts) → `shape`; every value is
 * finite → `non-finite`; the L2 norm is at most `maxNorm` → `norm`. The first failure is
 * returned with a detail naming the tensor and what was wrong. Never throws.
 */
export function validateUpdate(
  delta: ModelWeights,
  expected: ReadonlyArray<TensorShape>,
  options: ValidateOptions = {},
): ValidationResult {
  const structure = checkStructure(delta, expected);
  if (!structure.ok) return structure;
  return judgeValues(delta, sumOfSquares(delta), options.maxNorm ?? Number.POSITIVE_INFINITY);
}
