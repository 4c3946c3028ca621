/**
 * Bin edges from a reference sample: the `i/bins` quantiles (i = 1 … bins−1), duplicates
 * removed (a feature with few distinct values gets fewer bins). A constant feature gets the
 * single edge at its value. Throws on an empty sample or `bins` < 2.
 */
export function quantileEdges(values: readonly number[], bins: number): number[] {
  if (values.length === 0) throw new RangeError('quantileEdges: empty sample');
  if (!Number.isInteger(bins) || bins < 2) throw new RangeError('quantileEdges: bins must be an integer ≥ 2');
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (sorted.length === 0) throw new RangeError('quantileEdges: no finite value in the sample');
  const edges: number[] = [];
  for (let i = 1; i < bins; i++) {
    const q = sorted[Math.min(sorted.length - 1, Math.floor((i * sorted.length) / bins))] as number;
    if (edges.length === 0 || q > (edges.at(-1) as number)) edges.push(q);
  }
  return edges;
}
