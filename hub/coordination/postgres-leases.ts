import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { PgPool } from '../store/postgres-pool.js';
import type { Leases } from './types.js';

/** Options of {@link postgresLeases}. */
export interface PostgresLeaseOptions {
  /** Lease lifetime after each renewal, ms; default 10 000. Renew (call `isLeader`) well within it. */
  ttlMs?: number;
  log?: Logger;
}

/** The database clock in ms: every replica judges expiry by the same clock. */
const DB_NOW = '(EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::BIGINT';

/**
 * Leases in the PostgreSQL `leases` table: one atomic upsert per call takes a
 * free or expired lease (fence + 1) or renews our own (fence kept), judged by the database's
 * clock so replica clock skew does not matter. Another replica's live lease is left alone.
 */
export function postgresLeases(pool: PgPool, options: PostgresLeaseOptions = {}): Leases {
  const ttlMs = options.ttlMs ?? 10_000;
  const holder = `hub-${randomBytes(6).toString('hex')}`;
  const held = new Map<string, number>();
  let closed = false;

  const isLeader = async (name: string): Promise<boolean> => {
    if (closed) return false;
    try {
      const { rows } = await pool.query<{ fence: number }>(
        `INSERT INTO leases (name, holder, fence, expires_at) VALUES ($1, $2, 1, ${DB_NOW} + $3)
         ON CONFLICT (name) DO UPDATE SET
           fence = CASE WHEN leases.holder = excluded.holder THEN leases.fence ELSE leases.fence + 1 END,
           holder = excluded.holder, expires_at = excluded.expires_at
         WHERE leases.holder = excluded.holder OR leases.expires_at < ${DB_NOW}
         RETURNING fence`,
        [name, holder, ttlMs],
      );
      const fence = rows[0]?.fence;
      const had = held.get(name);
      if (fence === undefined) {
        if (had !== undefined) options.log?.warn({ lease: name, holder }, 'lost a lease to another replica');
        held.delete(name);
        return false;
      }
      if (had !== fence) options.log?.info({ lease: name, holder, fence }, 'acquired a lease');
      held.set(name, fence);
      return true;
    } catch (err) {
      // Unable to renew: act as a non-holder (another replica takes over after the TTL).
      options.log?.warn({ lease: name, err: (err as Error).message }, 'lease check failed; not driving');
      held.delete(name);
      return false;
    }
  };

  return {
    holder,
    isLeader,
    fence: (name) => held.get(name),
    async run(name, fn) {
      if (!(await isLeader(name))) return undefined;
      return fn(held.get(name) as number);
    },
    async close() {
      if (closed) return;
      closed = true;
      const names = [...held.keys()];
      held.clear();
      if (names.length === 0) return;
      await pool
        .query('UPDATE leases SET expires_at = 0 WHERE holder = $1 AND name = ANY($2::TEXT[])', [
          holder,
          names,
        ])
        .catch(() => undefined);
    },
  };
}
