import { z } from 'zod';
import type { Strategy } from '../types.js';
import { robustStrategy, sortedColumn } from './robust.js';

/** FedMedian parameters. */
export const FedMedianParamsSchema = z.object({ serverLr: z.number().positive().default(1) }).strict();

/**
 * FedMedian (Yin et al. 2018): the coordinate-wise median of the deltas (mean of the two
 * middle values for an even count). A minority of poisoned updates, however scaled, moves
 * each coordinate at most to the range of the honest values. Buffers: O(clients × model).
 */
export function fedMedian(params: z.input<typeof FedMedianParamsSchema> = {}): Strategy {
  const { serverLr } = FedMedianParamsSchema.parse(params);
  return robustStrategy(
    'fedmedian',
    (n) => (n >= 1 ? null : 'no update was accepted'),
    ({ rows }) => {
      const n = rows.length;
      const out = new Float32Array((rows[0] as Float32Array).length);
      const scratch = new Float64Array(n);
      for (let k = 0; k < out.length; k++) {
        const s = sortedColumn(rows, k, scratch);
        out[k] =
          n % 2 === 1 ? (s[(n - 1) / 2] as number) : ((s[n / 2 - 1] as number) + (s[n / 2] as number)) / 2;
      }
      return out;
    },
    serverLr,
  );
}
