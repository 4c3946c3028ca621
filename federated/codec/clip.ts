import type { ClipResult, ModelWeights } from '../types.js';
import { cloneWeights, l2Norm, scaleInPlace } from '../weights.js';

/**
 * Scales `delta` down so its L2 norm is at most `bound` (the sensitivity
 * bound of central DP). A delta already within the bound is returned as a copy, unchanged.
 * Throws RangeError for a bound that is not a positive number.
 */
export function clipL2(delta: ModelWeights, bound: number): ClipResult {
  if (!(bound > 0)) throw new RangeError(`clipL2: the bound must be a positive number, got ${bound}`);
  const norm = l2Norm(delta);
  const out = cloneWeights(delta);
  if (norm <= bound) return { delta: out, norm, clipped: false };
  return { delta: scaleInPlace(out, bound / norm), norm, clipped: true };
}
