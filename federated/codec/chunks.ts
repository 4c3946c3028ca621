import { createHash } from 'node:crypto';
import { OutpostError } from '../../shared/index.js';
import type { UpdateChunk } from '../types.js';

/** SHA-256 hex of `bytes`. */
export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/**
 * Cuts `bytes` into chunks of at most `maxChunk` bytes (updates travel in
 * chunks well under the broker's packet limit), each carrying the SHA-256 of the whole.
 * An empty input gives one empty chunk. Throws RangeError for a bad `maxChunk`.
 */
export function chunk(bytes: Uint8Array, maxChunk: number): UpdateChunk[] {
  if (!(Number.isInteger(maxChunk) && maxChunk > 0))
    throw new RangeError(`chunk: maxChunk must be a positive integer, got ${maxChunk}`);
  const digest = sha256Hex(bytes);
  const total = Math.max(1, Math.ceil(bytes.length / maxChunk));
  return Array.from({ length: total }, (_, index) => ({
    index,
    total,
    digest,
    bytes: bytes.slice(index * maxChunk, (index + 1) * maxChunk),
  }));
}

/**
 * Reassembles chunks (any order; exact duplicates are ignored, so a resent chunk is harmless)
 * and verifies the SHA-256. Throws `FL_BAD_UPDATE` naming the problem: mixed digests or
 * totals, a missing index, two different chunks at one index, a digest mismatch.
 */
export function reassemble(chunks: ReadonlyArray<UpdateChunk>): Uint8Array {
  const first = chunks[0];
  if (!first) throw new OutpostError('FL_BAD_UPDATE', 'reassemble: no chunks');
  const byIndex = new Map<number, Uint8Array>();
  for (const c of chunks) {
    if (c.digest !== first.digest || c.total !== first.total) {
      throw new OutpostError(
        'FL_BAD_UPDATE',
        `reassemble: chunk ${c.index} belongs to another update (digest or total differs)`,
      );
    }
    if (!(Number.isInteger(c.index) && c.index >= 0 && c.index < c.total)) {
      throw new OutpostError('FL_BAD_UPDATE', `reassemble: chunk index ${c.index} outside 0..${c.total - 1}`);
    }
    const seen = byIndex.get(c.index);
    if (seen && Buffer.compare(seen, c.bytes) !== 0) {
      throw new OutpostError('FL_BAD_UPDATE', `reassemble: two different chunks at index ${c.index}`);
    }
    byIndex.set(c.index, c.bytes);
  }
  const missing = Array.from({ length: first.total }, (_, i) => i).filter((i) => !byIndex.has(i));
  if (missing.length > 0) {
    throw new OutpostError(
      'FL_BAD_UPDATE',
      `reassemble: missing chunk(s) ${missing.slice(0, 10).join(', ')} of ${first.total}`,
    );
  }
  const parts = Array.from({ length: first.total }, (_, i) => byIndex.get(i) as Uint8Array);
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  const actual = sha256Hex(out);
  if (actual !== first.digest) {
    throw new OutpostError(
      'FL_BAD_UPDATE',
      `reassemble: SHA-256 ${actual.slice(0, 12)}… does not match ${first.digest.slice(0, 12)}…`,
    );
  }
  return out;
}
