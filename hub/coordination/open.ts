import type { Logger } from 'pino';
import { isPostgresHubStore } from '../store/postgres.js';
import type { HubStore } from '../store/types.js';
import { localLeases } from './local-leases.js';
import { postgresLeases } from './postgres-leases.js';
import type { Leases } from './types.js';

/**
 * The leases that fit the store: PostgreSQL (shared by replicas) gets real
 * leases in its `leases` table; SQLite (one hub) holds every lease itself.
 */
export function openLeases(store: HubStore, options: { ttlMs: number; log: Logger }): Leases {
  return isPostgresHubStore(store) ? postgresLeases(store.pool, options) : localLeases();
}
