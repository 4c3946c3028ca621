import { OutpostError } from '../../shared/index.js';
import type { PrivacySpent } from '../types.js';
import { logAdd, logErfc } from './log-math.js';

/** Rényi orders tried by default (those of Opacus / TF Privacy): 1.1 … 10.9 by 0.1, then 12 … 63. */
export const DEFAULT_ORDERS: readonly number[] = [
  ...Array.from({ length: 99 }, (_, x) => 1 + (x + 1) / 10),
  ...Array.from({ length: 52 }, (_, x) => 12 + x),
];

/** log A_α for integer α (Mironov, Talwar, Zhang 2019, §3.3): a finite binomial sum. */
function logAInt(q: number, sigma: number, alpha: number): number {
  let logA = Number.NEGATIVE_INFINITY;
  let logBinom = 0; // log C(alpha, i), built incrementally
  for (let i = 0; i <= alpha; i++) {
    if (i > 0) logBinom += Math.log(alpha - i + 1) - Math.log(i);
    const s = logBinom + i * Math.log(q) + (alpha - i) * Math.log1p(-q) + (i * i - i) / (2 * sigma * sigma);
    logA = logAdd(logA, s);
  }
  return logA;
}

/**
 * log A_α for fractional α (same paper, §3.3): two series with erfc terms. Every term is
 * added with |C(α, i)| — the conservative upper bound that Google's dp_accounting adopted
 * in place of the signed series — until both series decrease and their terms fall 30 nats
 * below the total (at most 1 000 terms; otherwise the order is dropped: Infinity).
 */
function logAFrac(q: number, sigma: number, alpha: number): number {
  let logA0 = Number.NEGATIVE_INFINITY;
  let logA1 = Number.NEGATIVE_INFINITY;
  let last0 = Number.NEGATIVE_INFINITY;
  let last1 = Number.NEGATIVE_INFINITY;
  const z0 = sigma * sigma * Math.log(1 / q - 1) + 0.5;
  const log1mq = Math.log1p(-q);
  let logCoef = 0; // log |C(alpha, i)|, built incrementally
  for (let i = 0; i < 1000; i++) {
    if (i > 0) logCoef += Math.log(Math.abs((alpha - i + 1) / i));
    const j = alpha - i;
    const logT0 = logCoef + i * Math.log(q) + j * log1mq;
    const logT1 = logCoef + j * Math.log(q) + i * log1mq;
    const logE0 = Math.log(0.5) + logErfc((i - z0) / (Math.SQRT2 * sigma));
    const logE1 = Math.log(0.5) + logErfc((z0 - j) / (Math.SQRT2 * sigma));
    const logS0 = logT0 + (i * i - i) / (2 * sigma * sigma) + logE0;
    const logS1 = logT1 + (j * j - j) / (2 * sigma * sigma) + logE1;
    logA0 = logAdd(logA0, logS0);
    logA1 = logAdd(logA1, logS1);
    const total = logAdd(logA0, logA1);
    if (logS0 < last0 && logS1 < last1 && Math.max(logS0, logS1) < total - 30) return total;
    last0 = logS0;
    last1 = logS1;
  }
  return Number.POSITIVE_INFINITY;
}

/**
 * RDP ε(α) of one step of the Poisson-subsampled Gaussian mechanism with sampling rate `q`
 * and noise multiplier `sigma` (noise std / L2 sensitivity), add-or-remove-one adjacency:
 * log(A_α)/(α−1) (Mironov, Talwar, Zhang 2019, "Rényi Differential Privacy of the Sampled
 * Gaussian Mechanism"; the computation Opacus and TF Privacy use). q = 1 is the plain
 * Gaussian α/(2σ²).
 */
export function rdpSubsampledGaussian(q: number, sigma: number, alpha: number): number {
  if (!(q >= 0 && q <= 1)) throw new OutpostError('FL_BAD_PARAMS', `sampling rate q ${q} must be in [0, 1]`);
  if (!(sigma >= 0)) throw new OutpostError('FL_BAD_PARAMS', `noise multiplier ${sigma} must be ≥ 0`);
  if (!(alpha > 1)) throw new OutpostError('FL_BAD_PARAMS', `Rényi order ${alpha} must be > 1`);
  if (q === 0) return 0;
  if (sigma === 0 || alpha === Number.POSITIVE_INFINITY) return Number.POSITIVE_INFINITY;
  if (q === 1) return alpha / (2 * sigma * sigma);
  const logA = Number.isInteger(alpha) ? logAInt(q, sigma, alpha) : logAFrac(q, sigma, alpha);
  return logA / (alpha - 1);
}

/**
 * (ε, δ) from RDP values at `orders`, minimised over the orders, with the conversion of
 * Balle et al. 2020 ("Hypothesis testing interpretations and Rényi DP", Thm 21; as in
 * Google's dp_accounting): ε = rdp + log(1 − 1/α) − log(δ·α)/(α−1), orders ≤ 1.01 skipped, and
 * ε = 0 where δ² ≥ 1 − e^−rdp (the KL bound).
 */
export function epsilonFromRdp(
  orders: readonly number[],
  rdp: readonly number[],
  delta: number,
): PrivacySpent {
  if (!(delta > 0 && delta < 1)) throw new OutpostError('FL_BAD_PARAMS', `delta ${delta} must be in (0, 1)`);
  let best: PrivacySpent = { epsilon: Number.POSITIVE_INFINITY, delta, order: Number.NaN };
  orders.forEach((a, i) => {
    const r = rdp[i] as number;
    let eps: number;
    if (!(r >= 0)) return;
    if (delta * delta + Math.expm1(-r) > 0)
      eps = 0; // δ ≥ √(1 − e^−KL): nothing to pay
    else if (a > 1.01) eps = r + Math.log1p(-1 / a) - Math.log(delta * a) / (a - 1);
    else return; // the conversion is unstable as α → 1
    if (eps < best.epsilon) best = { epsilon: Math.max(0, eps), delta, order: a };
  });
  return best;
}

/** One kind of step composed `steps` times: sampling rate and noise multiplier. */
export interface PrivacyStep {
  q: number;
  noiseMultiplier: number;
  steps: number;
}

/**
 * RDP accountant: composes rounds of the subsampled Gaussian mechanism by
 * adding their RDP at every order, and reports (ε, δ). A round of central-DP FedAvg is one
 * step with q = clients sampled / clients, σ = noise std / clip norm. The history is plain
 * JSON (`toJSON` / {@link RdpAccountant.fromJSON}) so the hub can persist it per model version.
 */
export class RdpAccountant {
  readonly #history: PrivacyStep[] = [];
  readonly #orders: readonly number[];

  constructor(orders: readonly number[] = DEFAULT_ORDERS) {
    this.#orders = orders;
  }

  /** Records `steps` (default 1) rounds at sampling rate `q` and noise multiplier `noiseMultiplier`. */
  step(q: number, noiseMultiplier: number, steps = 1): this {
    rdpSubsampledGaussian(q, noiseMultiplier, 2); // validates
    if (!(Number.isInteger(steps) && steps >= 0))
      throw new OutpostError('FL_BAD_PARAMS', `steps ${steps} must be a non-negative integer`);
    const last = this.#history[this.#history.length - 1];
    if (last && last.q === q && last.noiseMultiplier === noiseMultiplier) last.steps += steps;
    else this.#history.push({ q, noiseMultiplier, steps });
    return this;
  }

  /** Total RDP at each order. */
  rdp(): number[] {
    return this.#orders.map((a) =>
      this.#history.reduce(
        (sum, h) => sum + (h.steps === 0 ? 0 : h.steps * rdpSubsampledGaussian(h.q, h.noiseMultiplier, a)),
        0,
      ),
    );
  }

  /** (ε, δ) spent so far. */
  spent(delta: number): PrivacySpent {
    return epsilonFromRdp(this.#orders, this.rdp(), delta);
  }

  toJSON(): { history: PrivacyStep[] } {
    return { history: this.#history.map((h) => ({ ...h })) };
  }

  static fromJSON(json: { history: PrivacyStep[] }, orders?: readonly number[]): RdpAccountant {
    const a = new RdpAccountant(orders);
    for (const h of json.history) a.step(h.q, h.noiseMultiplier, h.steps);
    return a;
  }
}

/** (ε, δ) after `steps` rounds at sampling rate `q` with noise multiplier `noiseMultiplier`. */
export function privacySpent(
  q: number,
  noiseMultiplier: number,
  steps: number,
  delta: number,
  orders?: readonly number[],
): PrivacySpent {
  return new RdpAccountant(orders).step(q, noiseMultiplier, steps).spent(delta);
}
