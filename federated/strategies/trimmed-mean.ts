import { z } from 'zod';
import type { Strategy } from '../types.js';
import { robustStrategy, sortedColumn } from './robust.js';

/** Trimmed-mean parameters. */
export const TrimmedMeanParamsSchema = z
  .object({
    /** Fraction trimmed from each end per coordinate, [0, 0.5) (default 0.1): ⌊β·n⌋ values each side. */
    beta: z.number().min(0).lt(0.5).default(0.1),
    serverLr: z.number().positive().default(1),
  })
  .strict();

/**
 * Coordinate-wise trimmed mean (Yin et al. 2018): per coordinate, drop the ⌊β·n⌋ smallest
 * and largest values and average the rest. Up to ⌊β·n⌋ poisoned updates cannot push a
 * coordinate outside the honest range. Buffers: O(clients × model).
 */
export function trimmedMean(params: z.input<typeof TrimmedMeanParamsSchema> = {}): Strategy {
  const { beta, serverLr } = TrimmedMeanParamsSchema.parse(params);
  return robustStrategy(
    'trimmed-mean',
    (n) =>
      n >= 1 && n - 2 * Math.floor(beta * n) >= 1
        ? null
        : `${n} accepted updates leave nothing after trimming`,
    ({ rows }) => {
      const n = rows.length;
      const cut = Math.floor(beta * n);
      const out = new Float32Array((rows[0] as Float32Array).length);
      const scratch = new Float64Array(n);
      for (let k = 0; k < out.length; k++) {
        const s = sortedColumn(rows, k, scratch);
        let sum = 0;
        for (let i = cut; i < n - cut; i++) sum += s[i] as number;
        out[k] = sum / (n - 2 * cut);
      }
      return out;
    },
    serverLr,
  );
}
