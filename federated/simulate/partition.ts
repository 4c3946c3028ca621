import { z } from 'zod';
import { mulberry32, shuffleInPlace } from '../prng.js';

/** How training rows are dealt to simulated clients. */
export const PartitionSchema = z.enum(['iid', 'noniid']);
export type Partition = z.infer<typeof PartitionSchema>;

/**
 * Deals `labels.length` rows to `clients` clients (McMahan et al. 2017, §3):
 * - `iid`: rows shuffled (seeded) and cut into equal parts;
 * - `noniid`: rows sorted by label, cut into `2·clients` shards, each client gets 2 shards
 *   at random — most clients see only two digits.
 * Every row goes to exactly one client; sizes differ by at most one shard row. Deterministic for a seed.
 */
export function partitionRows(
  labels: ArrayLike<number>,
  clients: number,
  partition: Partition,
  seed: number,
): Uint32Array[] {
  const n = labels.length;
  if (!(Number.isInteger(clients) && clients >= 1 && clients <= n)) {
    throw new RangeError(`partition: ${clients} clients for ${n} rows`);
  }
  const random = mulberry32(seed ^ 0x9e3779b9);
  const rows = Uint32Array.from({ length: n }, (_, i) => i);
  const cut = (parts: number) =>
    Array.from({ length: parts }, (_, p) =>
      rows.slice(Math.floor((p * n) / parts), Math.floor(((p + 1) * n) / parts)),
    );
  if (partition === 'iid') {
    shuffleInPlace(rows, random);
    return cut(clients);
  }
  rows.sort((a, b) => (labels[a] as number) - (labels[b] as number) || a - b);
  const shards = cut(2 * clients);
  const order = shuffleInPlace(
    Array.from({ length: 2 * clients }, (_, i) => i),
    random,
  );
  return Array.from({ length: clients }, (_, c) => {
    const a = shards[order[2 * c] as number] as Uint32Array;
    const b = shards[order[2 * c + 1] as number] as Uint32Array;
    const out = new Uint32Array(a.length + b.length);
    out.set(a);
    out.set(b, a.length);
    return out;
  });
}
