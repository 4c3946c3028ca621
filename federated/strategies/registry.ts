import { z } from 'zod';
import { OutpostError } from '../../shared/index.js';
import type { Strategy } from '../types.js';
import { AdaptiveParamsSchema } from './adaptive.js';
import { fedAdam } from './fedadam.js';
import { FedAvgParamsSchema, fedAvg } from './fedavg.js';
import { FedMedianParamsSchema, fedMedian } from './fedmedian.js';
import { FedProxParamsSchema, fedProx } from './fedprox.js';
import { fedYogi } from './fedyogi.js';
import { KrumParamsSchema, krum } from './krum.js';
import { TrimmedMeanParamsSchema, trimmedMean } from './trimmed-mean.js';

/** Names of the aggregation strategies; an unknown name is an error. */
export const StrategyNameSchema = z.enum([
  'fedavg',
  'fedprox',
  'fedadam',
  'fedyogi',
  'fedmedian',
  'trimmed-mean',
  'krum',
]);
export type StrategyName = z.infer<typeof StrategyNameSchema>;

/** Every strategy: its parameter schema (strict: an unknown key is an error) and its factory. */
export const STRATEGIES: Readonly<
  Record<StrategyName, { params: z.ZodType; create: (params: never) => Strategy }>
> = {
  fedavg: { params: FedAvgParamsSchema, create: fedAvg },
  fedprox: { params: FedProxParamsSchema, create: fedProx },
  fedadam: { params: AdaptiveParamsSchema, create: fedAdam },
  fedyogi: { params: AdaptiveParamsSchema, create: fedYogi },
  fedmedian: { params: FedMedianParamsSchema, create: fedMedian },
  'trimmed-mean': { params: TrimmedMeanParamsSchema, create: trimmedMean },
  krum: { params: KrumParamsSchema, create: krum },
};

/**
 * The strategy `name` with `params` (validated by its zod schema). Throws `FL_BAD_PARAMS`
 * naming every problem for an unknown name or bad parameters.
 */
export function createStrategy(name: string, params: unknown = {}): Strategy {
  const n = StrategyNameSchema.safeParse(name);
  if (!n.success) {
    throw new OutpostError(
      'FL_BAD_PARAMS',
      `unknown strategy ${JSON.stringify(name)}; one of ${StrategyNameSchema.options.join(', ')}`,
    );
  }
  const entry = STRATEGIES[n.data];
  const p = entry.params.safeParse(params ?? {});
  if (!p.success) {
    const problems = p.error.issues.map((i) => `${i.path.join('.') || '(params)'}: ${i.message}`).join('; ');
    throw new OutpostError('FL_BAD_PARAMS', `${n.data} parameters: ${problems}`);
  }
  return entry.create(p.data as never);
}
