import { z } from 'zod';
import type { Strategy } from '../types.js';
import { robustStrategy } from './robust.js';

/** Krum parameters. */
export const KrumParamsSchema = z
  .object({
    /** Byzantine clients tolerated, f (default 1); needs n ≥ 2f + 3 accepted updates. */
    byzantine: z.number().int().nonnegative().default(1),
    /** Updates selected and averaged (Multi-Krum; default 1 = Krum). */
    select: z.number().int().positive().default(1),
    serverLr: z.number().positive().default(1),
  })
  .strict();

function squaredDistance(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let k = 0; k < a.length; k++) {
    const d = (a[k] as number) - (b[k] as number);
    s += d * d;
  }
  return s;
}

/**
 * Krum / Multi-Krum (Blanchard et al. 2017): each update's score is the sum of squared
 * distances to its n − f − 2 nearest neighbours; the `select` lowest-scoring updates are
 * averaged and every other update is discarded (reported as `robust-rule` with its score).
 * An outlier far from the honest cluster scores high and is never picked.
 * Buffers: O(clients × model) plus an n × n distance matrix.
 */
export function krum(params: z.input<typeof KrumParamsSchema> = {}): Strategy {
  const { byzantine: f, select, serverLr } = KrumParamsSchema.parse(params);
  return robustStrategy(
    'krum',
    (n) =>
      n >= 2 * f + 3 && n >= select
        ? null
        : `${n} accepted updates; Krum with f=${f}, select=${select} needs ${Math.max(2 * f + 3, select)}`,
    ({ ids, rows, book }) => {
      const n = rows.length;
      const dist = Array.from({ length: n }, () => new Float64Array(n));
      for (let i = 0; i < n; i++)
        for (let j = i + 1; j < n; j++) {
          const d = squaredDistance(rows[i] as Float32Array, rows[j] as Float32Array);
          (dist[i] as Float64Array)[j] = d;
          (dist[j] as Float64Array)[i] = d;
        }
      const neighbours = n - f - 2;
      const scores = dist.map((row, i) => {
        const others = [...row].filter((_, j) => j !== i).sort((a, b) => a - b);
        return others.slice(0, neighbours).reduce((s, d) => s + d, 0);
      });
      const order = scores.map((s, i) => ({ s, i })).sort((a, b) => a.s - b.s || a.i - b.i);
      const chosen = order.slice(0, select);
      for (const { s, i } of order.slice(select))
        book.discard(ids[i] as string, `krum score ${s.toPrecision(4)} not among the ${select} lowest`);
      const out = new Float32Array((rows[0] as Float32Array).length);
      for (const { i } of chosen) {
        const r = rows[i] as Float32Array;
        for (let k = 0; k < out.length; k++) out[k] = (out[k] as number) + (r[k] as number) / select;
      }
      return out;
    },
    serverLr,
  );
}
