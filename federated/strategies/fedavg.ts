import { z } from 'zod';
import type { ModelWeights, Strategy } from '../types.js';
import { addScaled, cloneWeights } from '../weights.js';
import { WeightedMean } from './weighted-mean.js';

/** FedAvg parameters. */
export const FedAvgParamsSchema = z
  .object({
    /** Server learning rate applied to the mean delta (default 1: the plain average of the clients' models). */
    serverLr: z.number().positive().default(1),
  })
  .strict();

/** Applies `global + serverLr·meanDelta` (a new list). */
export function stepGlobal(global: ModelWeights, meanDelta: ModelWeights, serverLr: number): ModelWeights {
  return addScaled(cloneWeights(global), meanDelta, serverLr);
}

/**
 * FedAvg (McMahan et al. 2017): the example-weighted mean of the clients' deltas added to
 * the global model. Streams: memory O(model).
 */
export function fedAvg(params: z.input<typeof FedAvgParamsSchema> = {}): Strategy {
  const { serverLr } = FedAvgParamsSchema.parse(params);
  return {
    name: 'fedavg',
    clientConfig: () => ({}),
    begin(global, options) {
      const mean = new WeightedMean(global, options.maxNorm);
      return {
        add: (u) => mean.add(u),
        finish: () => {
          const delta = mean.mean();
          return {
            weights: stepGlobal(global, delta, serverLr),
            accepted: [...mean.book.accepted],
            rejected: [...mean.book.rejected],
            state: null,
          };
        },
      };
    },
  };
}
