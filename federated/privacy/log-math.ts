/** log(exp(a) + exp(b)) without overflow. */
export function logAdd(a: number, b: number): number {
  const hi = Math.max(a, b);
  const lo = Math.min(a, b);
  if (hi === Number.NEGATIVE_INFINITY) return hi;
  return hi + Math.log1p(Math.exp(lo - hi));
}

/**
 * log(erfc(x)) to near double precision: the Maclaurin series of erf for |x| < 2.5 and the
 * Laplace continued fraction for the tail, evaluated in log space so it does not underflow
 * (erfc(30) ≈ 1e-393). The accountant needs this accuracy: at orders near 1, log A_α is a
 * tiny difference of terms near 1 (a 1e-7 erfc error moved ε by percents).
 */
export function logErfc(x: number): number {
  const z = Math.abs(x);
  if (z < 2.5) {
    // erf(z) = 2/√π · Σ (−1)^n z^(2n+1) / (n! (2n+1))
    let term = z;
    let sum = z;
    for (let n = 1; n < 200; n++) {
      term *= (-z * z) / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
    }
    const erf = (2 / Math.sqrt(Math.PI)) * sum;
    return Math.log(x >= 0 ? 1 - erf : 1 + erf);
  }
  // erfc(z) = exp(−z²)/√π · 1/(z + (1/2)/(z + (2/2)/(z + (3/2)/(z + …))))
  let f = z;
  for (let k = 300; k >= 1; k--) f = z + k / 2 / f;
  const logTail = -z * z - 0.5 * Math.log(Math.PI) - Math.log(f);
  return x >= 0 ? logTail : Math.log(2 - Math.exp(logTail));
}
