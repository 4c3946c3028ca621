import { randomFillSync } from 'node:crypto';
import { gaussianFrom, mulberry32 } from '../prng.js';
import type { ModelWeights } from '../types.js';

/** A source of standard normal samples. */
export type NormalSource = () => number;

/**
 * Standard normal samples from `node:crypto` (production DP noise): uniforms from 53 random
 * bits each, through Box-Muller. Known limit: floating-point Gaussian sampling leaks through
 * the low bits (Mironov 2012); a discrete Gaussian would close that, and is not implemented.
 */
export function cryptoNormal(): NormalSource {
  const buf = new Uint32Array(1024);
  let at = buf.length;
  const uniform = () => {
    if (at + 2 > buf.length) {
      randomFillSync(buf);
      at = 0;
    }
    const hi = (buf[at++] as number) >>> 5; // 27 bits
    const lo = (buf[at++] as number) >>> 6; // 26 bits
    return (hi * 67108864 + lo) / 9007199254740992;
  };
  return gaussianFrom(uniform);
}

/** Seeded standard normal samples (tests and simulations only: predictable, not private). */
export function seededNormal(seed: number): NormalSource {
  return gaussianFrom(mulberry32(seed));
}

/** Adds N(0, std²) to every entry of `w` in place; returns `w`. */
export function addGaussianNoise(w: ModelWeights, std: number, normal: NormalSource): ModelWeights {
  if (!(std >= 0)) throw new RangeError(`addGaussianNoise: std ${std} must be ≥ 0`);
  for (const t of w)
    for (let k = 0; k < t.values.length; k++) t.values[k] = (t.values[k] as number) + std * normal();
  return w;
}
