import type { z } from 'zod';
import type { Strategy } from '../types.js';
import { AdaptiveParamsSchema, adaptiveStrategy } from './adaptive.js';

/**
 * FedYogi: v ← v − (1−β2)·Δ²·sign(v − Δ²) (Reddi et al. 2021; Zaheer et al. 2018): v grows
 * additively, so it adapts more slowly than Adam's average when gradients shrink. Streams.
 */
export function fedYogi(params: z.input<typeof AdaptiveParamsSchema> = {}): Strategy {
  return adaptiveStrategy(
    'fedyogi',
    (v, d2, b2) => v - (1 - b2) * d2 * Math.sign(v - d2),
    AdaptiveParamsSchema.parse(params),
  );
}
