import type { ModelWeights, ValidateOptions, ValidationResult } from './types.js';
import { sizeOf, type TensorShape } from './weights.js';

function describe(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
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
  // One tight pass: any NaN or ±Infinity makes the sum of squares non-finite (finite float32
  // squares cannot overflow a float64 sum), so only then is the update scanned for the culprit.
  let sum = 0;
  for (const t of delta) {
    const v = t.values;
    for (let k = 0; k < v.length; k++) {
      const x = v[k] as number;
      sum += x * x;
    }
  }
  if (!Number.isFinite(sum)) {
    for (const t of delta) {
      const k = t.values.findIndex((x) => !Number.isFinite(x));
      if (k >= 0) return { ok: false, reason: 'non-finite', detail: `${t.name}[${k}] is ${t.values[k]}` };
    }
  }
  const norm = Math.sqrt(sum);
  const maxNorm = options.maxNorm ?? Number.POSITIVE_INFINITY;
  if (!(norm <= maxNorm)) {
    return {
      ok: false,
      reason: 'norm',
      detail: `L2 norm ${norm.toPrecision(6)} exceeds the bound ${maxNorm}`,
    };
  }
  return { ok: true };
}
