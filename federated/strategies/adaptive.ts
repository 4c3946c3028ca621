import { z } from 'zod';
import { OutpostError } from '../../shared/index.js';
import type { ModelWeights, ServerState, Strategy, WeightTensor } from '../types.js';
import { cloneWeights, sameShapes, zerosLike } from '../weights.js';
import { WeightedMean } from './weighted-mean.js';

/** FedAdam / FedYogi parameters (Reddi et al. 2021, "Adaptive Federated Optimization"). */
export const AdaptiveParamsSchema = z
  .object({
    /** Server learning rate η (default 0.01). */
    serverLr: z.number().positive().default(0.01),
    /** First-moment decay β1 (default 0.9). */
    beta1: z.number().min(0).max(1).default(0.9),
    /** Second-moment decay β2 (default 0.99). */
    beta2: z.number().min(0).max(1).default(0.99),
    /** Adaptivity τ, also the initial √v (default 1e-3). */
    tau: z.number().positive().default(1e-3),
  })
  .strict();
export type AdaptiveParams = z.output<typeof AdaptiveParamsSchema>;

/** How the second moment moves: Adam's exponential average or Yogi's additive, sign-controlled step. */
export type SecondMoment = (v: number, d2: number, beta2: number) => number;

function initialState(global: ModelWeights, tau: number): ServerState {
  const v = zerosLike(global);
  for (const t of v) t.values.fill(tau * tau);
  return { kind: 'adaptive', step: 0, m: zerosLike(global), v };
}

/**
 * The server-optimizer family (Reddi et al. 2021, Algorithm 2): Δ = the example-weighted mean
 * delta (streamed, memory O(model) plus the two moments), m ← β1·m + (1−β1)·Δ, v ← rule(v, Δ²),
 * x ← x + η·m/(√v + τ). No bias correction (as in the paper). The state (m, v, step) is
 * returned by `finish()`; the round runner persists it and passes it to the next `begin`
 * (absent: m = 0, v = τ²). A state of other shapes is refused (`FL_BAD_PARAMS`).
 */
export function adaptiveStrategy(name: string, rule: SecondMoment, params: AdaptiveParams): Strategy {
  const { serverLr, beta1, beta2, tau } = params;
  return {
    name,
    clientConfig: () => ({}),
    begin(global, options) {
      const previous = options.state ?? initialState(global, tau);
      if (!sameShapes(previous.m, global) || !sameShapes(previous.v, global)) {
        throw new OutpostError(
          'FL_BAD_PARAMS',
          `${name}: the server state does not match the model's shapes`,
        );
      }
      const mean = new WeightedMean(global, options.maxNorm);
      return {
        add: (u) => mean.add(u),
        finish: () => {
          const delta = mean.mean();
          const m = cloneWeights(previous.m);
          const v = cloneWeights(previous.v);
          const weights = cloneWeights(global);
          delta.forEach((d, i) => {
            const mv = (m[i] as WeightTensor).values;
            const vv = (v[i] as WeightTensor).values;
            const x = (weights[i] as WeightTensor).values;
            for (let k = 0; k < d.values.length; k++) {
              const g = d.values[k] as number;
              mv[k] = beta1 * (mv[k] as number) + (1 - beta1) * g;
              vv[k] = rule(vv[k] as number, g * g, beta2);
              x[k] = (x[k] as number) + (serverLr * (mv[k] as number)) / (Math.sqrt(vv[k] as number) + tau);
            }
          });
          return {
            weights,
            accepted: [...mean.book.accepted],
            rejected: [...mean.book.rejected],
            state: { kind: 'adaptive', step: previous.step + 1, m, v },
          };
        },
      };
    },
  };
}
