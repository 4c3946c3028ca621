import { evaluate, type ModelWeights, type Samples } from '../../federated/index.js';
import { DIGIT_PIXELS, loadDigits } from '../../inference/index.js';
import type { FlTaskSpec } from './task-spec.js';

/** Evaluation of a global model on the hub's held-out set. */
export type HubEvaluator = (
  spec: FlTaskSpec,
  weights: ModelWeights,
) => Promise<{ accuracy: number; loss: number; count: number } | null>;

/**
 * Hub-side evaluation on a held-out set: the real MNIST test digits of the
 * `mnist` package (`hubEval.perClass` per digit from `hubEval.offset`), with fl-core's
 * `evaluate` on TF.js. Sets are loaded once per (perClass, offset). Tasks without `hubEval`
 * are not evaluated (null).
 */
export function createMnistEvaluator(): HubEvaluator {
  const sets = new Map<string, Samples>();
  return async (spec: FlTaskSpec, weights: ModelWeights) => {
    if (spec.hubEval === undefined) return null;
    const key = `${spec.hubEval.perClass}:${spec.hubEval.offset}`;
    let samples = sets.get(key);
    if (samples === undefined) {
      const set = loadDigits(spec.hubEval.perClass, spec.hubEval.offset);
      samples = { x: set.pixels, y: set.labels, count: set.labels.length, features: DIGIT_PIXELS };
      sets.set(key, samples);
    }
    const r = await evaluate({ modelTopology: spec.topology, weights }, samples);
    return { accuracy: r.accuracy, loss: r.loss, count: r.count };
  };
}
