import type { ModelWeights, WeightTensor } from '../types.js';

/**
 * `into = from + s·x`, tensor by tensor, and the sum of squares of `x` (float64, four
 * interleaved partial sums) in the same pass: one read of the update instead of two (a
 * validation pass, then an accumulate pass). `into` and `from` are different buffers, so
 * a refused update is dropped by keeping `from`, exactly, with nothing to undo. The caller
 * has checked that all three lists have the same structure.
 */
export function accumulateAndMeasure(
  into: ModelWeights,
  from: ModelWeights,
  x: ModelWeights,
  s: number,
): number {
  let total = 0;
  for (let i = 0; i < x.length; i++) {
    const out = (into[i] as WeightTensor).values;
    const a = (from[i] as WeightTensor).values;
    const v = (x[i] as WeightTensor).values;
    let s0 = 0;
    let s1 = 0;
    let s2 = 0;
    let s3 = 0;
    const n4 = v.length - (v.length % 4);
    for (let k = 0; k < n4; k += 4) {
      const p = v[k] as number;
      const q = v[k + 1] as number;
      const r = v[k + 2] as number;
      const t = v[k + 3] as number;
      s0 += p * p;
      s1 += q * q;
      s2 += r * r;
      s3 += t * t;
      out[k] = (a[k] as number) + s * p;
      out[k + 1] = (a[k + 1] as number) + s * q;
      out[k + 2] = (a[k + 2] as number) + s * r;
      out[k + 3] = (a[k + 3] as number) + s * t;
    }
    for (let k = n4; k < v.length; k++) {
      const p = v[k] as number;
      s0 += p * p;
      out[k] = (a[k] as number) + s * p;
    }
    total += s0 + s1 + s2 + s3;
  }
  return total;
}
