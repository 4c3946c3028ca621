import { randomBytes } from 'node:crypto';
import { OutpostError } from '../../shared/index.js';

// GF(2^8) with the AES polynomial x^8 + x^4 + x^3 + x + 1, by log/exp tables (generator 3).
const EXP = new Uint8Array(510);
const LOG = new Uint8Array(256);
{
  let x = 1;
  for (let i = 0; i < 255; i++) {
    EXP[i] = x;
    LOG[x] = i;
    x ^= (x << 1) ^ (x & 0x80 ? 0x11b : 0); // x·3 = x·2 ⊕ x
    x &= 0xff;
  }
  for (let i = 255; i < 510; i++) EXP[i] = EXP[i - 255] as number;
}
const mul = (a: number, b: number) =>
  a === 0 || b === 0 ? 0 : (EXP[(LOG[a] as number) + (LOG[b] as number)] as number);
const div = (a: number, b: number) =>
  a === 0 ? 0 : (EXP[(LOG[a] as number) + 255 - (LOG[b] as number)] as number);

/** One Shamir share: the polynomial evaluated at `x` (1-255), byte by byte. */
export interface Share {
  x: number;
  y: Uint8Array;
}

/**
 * Splits `secret` into `n` shares, any `threshold` of which recover it and fewer reveal
 * nothing (Shamir 1979, byte-wise over GF(2^8); random coefficients from `node:crypto`).
 * Share i has x = i + 1. Throws `FL_BAD_PARAMS` unless 1 ≤ threshold ≤ n ≤ 255.
 */
export function split(secret: Uint8Array, n: number, threshold: number): Share[] {
  if (!(Number.isInteger(n) && Number.isInteger(threshold) && threshold >= 1 && threshold <= n && n <= 255)) {
    throw new OutpostError(
      'FL_BAD_PARAMS',
      `Shamir: threshold ${threshold} of ${n} shares (need 1 ≤ t ≤ n ≤ 255)`,
    );
  }
  const coefficients = randomBytes(secret.length * (threshold - 1));
  return Array.from({ length: n }, (_, i) => {
    const x = i + 1;
    const y = new Uint8Array(secret.length);
    for (let b = 0; b < secret.length; b++) {
      // Horner: f(x) = s + c1·x + … + c(t−1)·x^(t−1)
      let acc = 0;
      for (let k = threshold - 2; k >= 0; k--)
        acc = mul(acc, x) ^ (coefficients[b * (threshold - 1) + k] as number);
      y[b] = mul(acc, x) ^ (secret[b] as number);
    }
    return { x, y };
  });
}

/**
 * Recovers the secret from `shares` (Lagrange interpolation at 0). With fewer than the
 * threshold the result is garbage, not an error — the caller must pass at least t shares.
 * Throws `FL_SECAGG_FAILED` for duplicate or zero x, or shares of different lengths.
 */
export function combine(shares: readonly Share[]): Uint8Array {
  const first = shares[0];
  if (!first) throw new OutpostError('FL_SECAGG_FAILED', 'Shamir: no shares');
  const xs = shares.map((s) => s.x);
  if (new Set(xs).size !== xs.length || xs.some((x) => !(x >= 1 && x <= 255))) {
    throw new OutpostError(
      'FL_SECAGG_FAILED',
      `Shamir: share x values ${xs.join(', ')} must be distinct, 1-255`,
    );
  }
  if (shares.some((s) => s.y.length !== first.y.length))
    throw new OutpostError('FL_SECAGG_FAILED', 'Shamir: shares of different lengths');
  const out = new Uint8Array(first.y.length);
  shares.forEach((si, i) => {
    let basis = 1; // ℓ_i(0) = Π_{j≠i} x_j / (x_j ⊕ x_i)
    shares.forEach((sj, j) => {
      if (j !== i) basis = mul(basis, div(sj.x, sj.x ^ si.x));
    });
    for (let b = 0; b < out.length; b++) out[b] = (out[b] as number) ^ mul(si.y[b] as number, basis);
  });
  return out;
}
