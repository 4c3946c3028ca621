import type { FlEvalRecord } from '../store/federated-types.js';

/** The devices' federated evaluation of one round, example-weighted; null without reports. */
export function summarizeEvals(evals: readonly FlEvalRecord[]) {
  const examples = evals.reduce((n, e) => n + e.examples, 0);
  if (examples === 0) return null;
  return {
    devices: evals.length,
    examples,
    accuracy: evals.reduce((s, e) => s + e.accuracy * e.examples, 0) / examples,
    loss: evals.reduce((s, e) => s + e.loss * e.examples, 0) / examples,
  };
}
