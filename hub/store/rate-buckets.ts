import type { RateBucketRef, RateBucketStore } from './rate-bucket-types.js';
import type { Sql } from './sql/seam.js';

interface BucketRow {
  tokens: number;
  at: number;
}

/** The tokens a bucket holds at `now`, from its row (full without one). */
function tokensAt(b: RateBucketRef, row: BucketRow | undefined, now: number): number {
  if (row === undefined) return b.burst;
  return Math.min(b.burst, row.tokens + (Math.max(0, now - row.at) / 1000) * b.ratePerS);
}

/**
 * Token buckets (see {@link RateBucketStore}). A change inserts the missing rows full, then
 * locks them in (scope, key) order, so replicas charging the same key serialise on its row.
 */
export function rateBucketArea(db: Sql): RateBucketStore {
  return {
    async readRateBuckets(buckets, now) {
      const out: number[] = [];
      for (const b of buckets) {
        const row = await db.get<BucketRow>(
          'SELECT tokens, at FROM rate_buckets WHERE scope = ? AND key = ?',
          [b.scope, b.key],
        );
        out.push(tokensAt(b, row, now));
      }
      return out;
    },
    changeRateBuckets(buckets, now, plan) {
      return db.tx(async (q) => {
        const order = buckets
          .map((b, i) => ({ b, i }))
          .sort((x, y) =>
            x.b.scope === y.b.scope ? (x.b.key < y.b.key ? -1 : 1) : x.b.scope < y.b.scope ? -1 : 1,
          );
        const tokens = new Array<number>(buckets.length).fill(0);
        for (const { b, i } of order) {
          await q.run(
            'INSERT INTO rate_buckets (scope, key, tokens, at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING',
            [b.scope, b.key, b.burst, now],
          );
          const row = await q.get<BucketRow>(
            `SELECT tokens, at FROM rate_buckets WHERE scope = ? AND key = ?${q.dialect.forUpdate}`,
            [b.scope, b.key],
          );
          tokens[i] = tokensAt(b, row, now);
        }
        const { deltas, result } = plan([...tokens]);
        for (const { b, i } of order) {
          const next = Math.min(b.burst, (tokens[i] as number) + (deltas[i] ?? 0));
          if (next >= b.burst) {
            await q.run('DELETE FROM rate_buckets WHERE scope = ? AND key = ?', [b.scope, b.key]);
          } else {
            await q.run('UPDATE rate_buckets SET tokens = ?, at = ? WHERE scope = ? AND key = ?', [
              next,
              now,
              b.scope,
              b.key,
            ]);
          }
        }
        // Rows idle long enough to have refilled are the same as none: forget them.
        const scopes = new Map(buckets.map((b) => [b.scope, b]));
        for (const b of scopes.values()) {
          const fullAfterMs = Math.ceil((b.burst / b.ratePerS) * 1000);
          await q.run('DELETE FROM rate_buckets WHERE scope = ? AND at < ?', [b.scope, now - fullAfterMs]);
        }
        return result;
      });
    },
  };
}
