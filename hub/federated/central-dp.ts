import type { ModelWeights } from '../../federated/index.js';

/** A standard normal sample by Box–Muller over `Math.random` (not for secrets; DP noise only). */
export function standardNormal(): number {
  let u = 0;
  while (u === 0) u = Math.random();
  const v = Math.random();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

/**
 * Central differential privacy at the hub (issue 6 item 6): adds N(0, σ²) to every weight
 * in place. With client deltas clipped to C and a mean over n clients, σ = z·C/n gives the
 * Gaussian mechanism of noise multiplier z on the sum (DP-FedAvg, McMahan et al. 2018).
 */
export function addGaussianNoise(
  weights: ModelWeights,
  sigma: number,
  gaussian: () => number = standardNormal,
): void {
  if (!(sigma > 0)) return;
  for (const t of weights) {
    const v = t.values;
    for (let i = 0; i < v.length; i++) v[i] = (v[i] as number) + sigma * gaussian();
  }
}
