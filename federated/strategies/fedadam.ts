import type { z } from 'zod';
import type { Strategy } from '../types.js';
import { AdaptiveParamsSchema, adaptiveStrategy } from './adaptive.js';

/** FedAdam: Adam on the server, v ← β2·v + (1−β2)·Δ² (Reddi et al. 2021). Streams. */
export function fedAdam(params: z.input<typeof AdaptiveParamsSchema> = {}): Strategy {
  return adaptiveStrategy(
    'fedadam',
    (v, d2, b2) => b2 * v + (1 - b2) * d2,
    AdaptiveParamsSchema.parse(params),
  );
}
