import { z } from 'zod';
import { configInt } from '../../shared/index.js';

/**
 * `store` of the hub config. Env: `OUTPOST_HUB_STORE__URL`,
 * `OUTPOST_HUB_STORE__SCHEMA`; flags `--store.url`.
 */
export const StoreConfigSchema = z
  .strictObject({
    /**
     * `postgres://user:password@host:port/db` selects PostgreSQL (several replicas may share
     * it); absent (the default), the hub uses SQLite in `{dataDir}/hub.db`.
     */
    url: z
      .string()
      .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// or postgresql:// URL (omit it for SQLite)')
      .optional(),
    /** PostgreSQL schema holding the hub's tables, created when missing; default `public`. */
    schema: z
      .string()
      .regex(/^[a-z_][a-z0-9_]{0,62}$/, 'must be a lower-case SQL identifier')
      .default('public'),
    /** Most PostgreSQL connections of one hub process; default 10. */
    maxConnections: configInt().min(1).max(1000).default(10),
    /**
     * Lifetime of a replica's lease on a singleton job (rollout driver, …) after each renewal,
     * ms; default 10 000: a killed replica's jobs move to another one within about this.
     */
    leaseTtlMs: configInt().min(200).max(600_000).default(10_000),
  })
  .prefault({});
