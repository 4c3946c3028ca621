import { proportions } from './psi.js';

/**
 * Kolmogorov–Smirnov statistic from binned data: the largest absolute
 * difference between the two empirical CDFs evaluated at the bin boundaries,
 * `max_k |Σ_{i≤k} e_i − Σ_{i≤k} a_i|` over proportions. In [0, 1]; 0 for identical
 * histograms. Binning can only hide differences inside a bin, so this is a lower bound of
 * the KS statistic of the raw samples. Throws when lengths differ or a histogram is empty.
 */
export function ksStatistic(expected: readonly number[], actual: readonly number[]): number {
  if (expected.length !== actual.length)
    throw new RangeError(`ks: ${expected.length} expected bins vs ${actual.length} actual bins`);
  const e = proportions(expected, 'expected');
  const a = proportions(actual, 'actual');
  let ce = 0;
  let ca = 0;
  let max = 0;
  for (let i = 0; i < e.length; i++) {
    ce += e[i] as number;
    ca += a[i] as number;
    max = Math.max(max, Math.abs(ce - ca));
  }
  return max;
}
