import type { HubConfig } from '../config.js';
import { openPostgresHubStore } from './postgres.js';
import { openSqliteHubStore } from './sqlite.js';
import type { HubStore } from './types.js';

/**
 * Opens the store the config picks: `store.url` `postgres://…` (or
 * `postgresql://…`) gives PostgreSQL in `store.schema`; no URL gives SQLite in `{dataDir}/hub.db`.
 * Any other URL scheme is a config error (checked by the schema).
 */
export async function openHubStore(cfg: Pick<HubConfig, 'dataDir' | 'store'>): Promise<HubStore> {
  const url = cfg.store.url;
  if (url === undefined) return openSqliteHubStore(cfg.dataDir);
  return openPostgresHubStore({ url, schema: cfg.store.schema, max: cfg.store.maxConnections });
}
