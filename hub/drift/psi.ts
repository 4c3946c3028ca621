/** Floor of a bin proportion in {@link psi}, so an empty bin contributes a finite term. */
export const PSI_EPSILON = 1e-4;

/**
 * Population Stability Index of `actual` against `expected`, two histograms over the same
 * bins: `Σ (a_i − e_i) · ln(a_i / e_i)` over bin proportions, each
 * proportion floored at {@link PSI_EPSILON}. 0 for identical distributions; by the usual
 * reading < 0.1 stable, 0.1–0.2 moderate shift, ≥ 0.2 significant shift. Throws when the
 * histograms differ in length or either is empty (no counts).
 */
export function psi(expected: readonly number[], actual: readonly number[]): number {
  if (expected.length !== actual.length)
    throw new RangeError(`psi: ${expected.length} expected bins vs ${actual.length} actual bins`);
  const e = proportions(expected, 'expected');
  const a = proportions(actual, 'actual');
  let sum = 0;
  for (let i = 0; i < e.length; i++) {
    const ei = Math.max(e[i] as number, PSI_EPSILON);
    const ai = Math.max(a[i] as number, PSI_EPSILON);
    sum += (ai - ei) * Math.log(ai / ei);
  }
  return sum;
}

/** Counts as proportions of their total; throws on an empty or negative histogram. */
export function proportions(counts: readonly number[], what: string): number[] {
  let total = 0;
  for (const c of counts) {
    if (!(c >= 0)) throw new RangeError(`${what}: counts must be non-negative numbers`);
    total += c;
  }
  if (total === 0) throw new RangeError(`${what}: histogram has no counts`);
  return counts.map((c) => c / total);
}
