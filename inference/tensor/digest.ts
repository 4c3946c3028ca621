import { createHash } from 'node:crypto';
import { bytesOf, type TensorMap } from './host-tensor.js';

/**
 * SHA-256 (hex) of a set of input tensors, independent of the order they were given in and
 * of their transport (JSON or binary): for each tensor by name, its name, dtype, dims and
 * raw little-endian element bytes (strings: their JSON). The result-cache key hashes this.
 */
export function digestTensors(tensors: TensorMap): string {
  const hash = createHash('sha256');
  for (const name of Object.keys(tensors).sort()) {
    const t = tensors[name];
    if (!t) continue;
    hash.update(JSON.stringify([name, t.dtype, t.dims]));
    hash.update('\0');
    if (Array.isArray(t.data)) hash.update(JSON.stringify(t.data));
    else hash.update(bytesOf(t));
    hash.update('\0');
  }
  return hash.digest('hex');
}
