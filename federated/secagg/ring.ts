import { createCipheriv, hkdfSync } from 'node:crypto';
import { OutpostError } from '../../shared/index.js';

/**
 * Expands a 32-byte seed into `length` uint32 words with AES-256-CTR over zeros (a PRG:
 * indistinguishable from random without the seed). Both ends of a pair derive the same mask.
 */
export function prgWords(seed: Uint8Array, length: number): Uint32Array {
  if (seed.length !== 32)
    throw new OutpostError('FL_SECAGG_FAILED', `PRG seed of ${seed.length} bytes; 32 needed`);
  const cipher = createCipheriv('aes-256-ctr', seed, Buffer.alloc(16));
  const bytes = cipher.update(Buffer.alloc(length * 4));
  return new Uint32Array(bytes.buffer, bytes.byteOffset, length).slice();
}

/** HKDF-SHA-256 of a shared secret into a 32-byte key for `purpose` in `round`. */
export function deriveKey(shared: Uint8Array, round: number, purpose: string): Buffer {
  return Buffer.from(hkdfSync('sha256', shared, Buffer.from(`outpost-secagg/round/${round}`), purpose, 32));
}

/** `acc += sign·x` in the ring Z/2^32, in place. */
export function ringAdd(acc: Uint32Array, x: Uint32Array, sign: 1 | -1): void {
  if (sign === 1) for (let k = 0; k < acc.length; k++) acc[k] = ((acc[k] as number) + (x[k] as number)) >>> 0;
  else for (let k = 0; k < acc.length; k++) acc[k] = ((acc[k] as number) - (x[k] as number)) >>> 0;
}

/**
 * Fixed-point encoding into Z/2^32: round(v·scale) as two's complement. `maxAbs` bounds each
 * value (a clipped update's L2 bound bounds every coordinate); values beyond it are refused
 * (`FL_SECAGG_FAILED`) rather than wrapped, because a wrapped value would corrupt the sum silently.
 */
export function encodeFixed(values: Float32Array, scale: number, maxAbs: number): Uint32Array {
  const out = new Uint32Array(values.length);
  for (let k = 0; k < values.length; k++) {
    const v = values[k] as number;
    if (!(Math.abs(v) <= maxAbs))
      throw new OutpostError(
        'FL_SECAGG_FAILED',
        `value ${v} at ${k} is outside ±${maxAbs} (clip before masking)`,
      );
    out[k] = Math.round(v * scale) >>> 0;
  }
  return out;
}

/** The inverse of {@link encodeFixed} for a sum: words read as int32, divided by `scale`. */
export function decodeFixed(words: Uint32Array, scale: number): Float32Array {
  const out = new Float32Array(words.length);
  for (let k = 0; k < words.length; k++) out[k] = ((words[k] as number) | 0) / scale;
  return out;
}
