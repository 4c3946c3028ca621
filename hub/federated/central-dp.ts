import {
  addGaussianNoise,
  cryptoNormal,
  type ModelWeights,
  type NormalSource,
  type PrivacyStep,
  RdpAccountant,
} from '../../federated/index.js';

/** The central-DP record of one round, stored in its metrics. */
export interface DpRecord {
  /** Noise standard deviation added to every weight. */
  sigma: number;
  noiseMultiplier: number;
  /** Sampling rate of the round: selected / eligible devices. */
  q: number;
  /** (ε, δ) spent by the task up to and including this round (RDP accountant, fl-core). */
  epsilon: number;
  delta: number;
  /** Every DP round so far, for the accountant of the next one. */
  history: PrivacyStep[];
}

/**
 * Central differential privacy at the hub: with client deltas clipped to
 * C (and refused above it) and a mean over n accepted clients, adds N(0, σ²), σ = z·C/n, to
 * every weight of the new global model in place (DP-FedAvg, McMahan et al. 2018), and books
 * the round in fl-core's RDP accountant (sampling rate q = selected/eligible).
 */
export function applyCentralDp(options: {
  weights: ModelWeights;
  clipNorm: number;
  noiseMultiplier: number;
  delta: number;
  accepted: number;
  q: number;
  previous: PrivacyStep[];
  normal?: NormalSource | undefined;
}): DpRecord {
  const sigma = (options.noiseMultiplier * options.clipNorm) / options.accepted;
  addGaussianNoise(options.weights, sigma, options.normal ?? cryptoNormal());
  const accountant = RdpAccountant.fromJSON({ history: options.previous });
  accountant.step(Math.min(1, Math.max(options.q, 1e-9)), options.noiseMultiplier, 1);
  const spent = accountant.spent(options.delta);
  return {
    sigma,
    noiseMultiplier: options.noiseMultiplier,
    q: options.q,
    epsilon: spent.epsilon,
    delta: spent.delta,
    history: accountant.toJSON().history,
  };
}
