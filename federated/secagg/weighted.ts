import { OutpostError } from '../../shared/index.js';
import { stepGlobal } from '../strategies/fedavg.js';
import type { ModelWeights } from '../types.js';
import { flatCount, flatten, type TensorShape, unflatten } from '../weights.js';

/**
 * A client's secure-aggregation input for an example-weighted mean: its flattened delta
 * scaled by w = examples / maxExamples ∈ (0, 1], followed by w itself, so the masked sum
 * carries Σ w·δ and Σ w and the hub computes FedAvg's weighted mean without seeing any single
 * weight. The round's `length` is `secureInputLength(shapes)`. Clip the delta to the round's
 * `maxAbs` first (every |w·δ| ≤ |δ| ≤ its L2 norm).
 */
export function secureInput(delta: ModelWeights, examples: number, maxExamples: number): Float32Array {
  if (!(examples > 0 && examples <= maxExamples)) {
    throw new OutpostError('FL_BAD_PARAMS', `examples ${examples} must be in (0, ${maxExamples}]`);
  }
  const w = examples / maxExamples;
  const flat = flatten(delta);
  const out = new Float32Array(flat.length + 1);
  for (let k = 0; k < flat.length; k++) out[k] = (flat[k] as number) * w;
  out[flat.length] = w;
  return out;
}

/** Values per client for {@link secureInput}: the model's parameters plus one weight. */
export function secureInputLength(shapes: ReadonlyArray<TensorShape>): number {
  return flatCount(shapes) + 1;
}

/**
 * The new global model from a secure-aggregation sum of {@link secureInput}s: global +
 * serverLr · (Σ w·δ) / (Σ w). Throws `FL_ROUND_FAILED` when the weights sum to nothing.
 */
export function globalFromSecureSum(global: ModelWeights, sum: Float32Array, serverLr = 1): ModelWeights {
  const n = flatCount(global);
  if (sum.length !== n + 1)
    throw new OutpostError('FL_ROUND_FAILED', `secure sum of ${sum.length} values; the model needs ${n + 1}`);
  const total = sum[n] as number;
  if (!(total > 0)) throw new OutpostError('FL_ROUND_FAILED', `secure sum carries total weight ${total}`);
  const mean = new Float32Array(n);
  for (let k = 0; k < n; k++) mean[k] = (sum[k] as number) / total;
  return stepGlobal(global, unflatten(mean, global), serverLr);
}
