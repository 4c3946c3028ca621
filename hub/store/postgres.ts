import {
  type DesiredState,
  type DeviceId,
  type Manifest,
  OutpostError,
  PROTOCOL_VERSION,
  type RemoteConfig,
  type UplinkBatch,
} from '../../shared/index.js';
import type { FederatedStore } from './federated-types.js';
import { countPostgresEvents, ingestPostgres, listPostgresEvents } from './postgres-events.js';
import { postgresFederatedStore } from './postgres-federated.js';
import { runPostgresMigrations } from './postgres-migrate.js';
import { PgPool, type PgPoolOptions } from './postgres-pool.js';
import { postgresRegistry, updateDesiredPostgres } from './postgres-registry.js';
import { postgresRescores } from './postgres-rescores.js';
import { postgresRolloutStore } from './postgres-rollouts.js';
import { HUB_POSTGRES_MIGRATIONS } from './postgres-schema.js';
import { postgresSkips } from './postgres-skips.js';
import type { DesiredMutation, ModelVariantRecord, ModelVersionRecord } from './registry-types.js';
import type { RolloutStore } from './rollout-types.js';
import { desiredBodyOf } from './sqlite-registry.js';
import type {
  DeviceRecord,
  EventQuery,
  HubStore,
  IngestResult,
  NewDevice,
  PendingRescore,
  RescoreOutcome,
  SkipRange,
  SkipTotal,
  StatusOutcome,
  StatusUpdate,
  StoredEvent,
} from './types.js';

interface DeviceRow {
  id: string;
  name: string | null;
  labels: string;
  secret_hash: string;
  created_at: number;
  online: boolean;
  conn: string | null;
  last_seen: number | null;
  reported: string | null;
  reported_at: number | null;
}

function toDevice(row: DeviceRow): DeviceRecord {
  return {
    id: row.id,
    name: row.name,
    labels: JSON.parse(row.labels) as Record<string, string>,
    secretHash: row.secret_hash,
    createdAt: row.created_at,
    online: row.online,
    conn: row.conn,
    lastSeen: row.last_seen,
    reported: row.reported === null ? null : JSON.parse(row.reported),
    reportedAt: row.reported_at,
  };
}

/** PostgreSQL's `unique_violation`. */
const UNIQUE_VIOLATION = '23505';

/**
 * Opens the PostgreSQL hub store: connects, creates the schema when
 * missing and runs the numbered migrations. Several hub replicas may share one database;
 * every operation is one transaction, ingest locks its high-water mark row.
 * A database that cannot be reached rejects with `HUB_STORE_UNAVAILABLE` naming the cause.
 */
export async function openPostgresHubStore(options: PgPoolOptions): Promise<PostgresHubStore> {
  const pool = new PgPool(options);
  try {
    await runPostgresMigrations(pool, HUB_POSTGRES_MIGRATIONS);
  } catch (err) {
    await pool.close().catch(() => undefined);
    if (err instanceof OutpostError) throw err;
    throw new OutpostError(
      'HUB_STORE_UNAVAILABLE',
      `cannot open the PostgreSQL store at ${redactUrl(options.url)}: ${(err as Error).message}`,
    );
  }
  return new PostgresHubStore(pool);
}

/** The URL without its password, for messages and logs (credentials are never logged). */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password !== '') u.password = '***';
    return u.toString();
  } catch {
    return '(unparseable URL)';
  }
}

// The rollout and federated methods are mixed in by the constructor from
// `postgres-rollouts.ts` and `postgres-federated.ts`, as the SQLite store does.
export interface PostgresHubStore extends RolloutStore, FederatedStore {}

/** {@link HubStore} over PostgreSQL; `pool` is exposed for the lease module (`hub/coordination`). */
// biome-ignore lint/suspicious/noUnsafeDeclarationMerging: the interface's methods are assigned in the constructor
export class PostgresHubStore implements HubStore {
  readonly kind = 'postgres';

  constructor(readonly pool: PgPool) {
    Object.assign(this, postgresRolloutStore(pool), postgresFederatedStore(pool));
  }

  async createDevice(device: NewDevice): Promise<DeviceRecord> {
    try {
      const { rows } = await this.pool.query<DeviceRow>(
        `INSERT INTO devices (id, name, labels, secret_hash, created_at) VALUES ($1, $2, $3, $4, $5)
         RETURNING *`,
        [
          device.id,
          device.name ?? null,
          JSON.stringify(device.labels ?? {}),
          device.secretHash,
          device.createdAt,
        ],
      );
      return toDevice(rows[0] as DeviceRow);
    } catch (err) {
      if ((err as { code?: string }).code === UNIQUE_VIOLATION) {
        throw new OutpostError('HUB_DEVICE_EXISTS', `a device with id ${device.id} already exists`);
      }
      throw err;
    }
  }

  async getDevice(id: string): Promise<DeviceRecord | undefined> {
    const { rows } = await this.pool.query<DeviceRow>('SELECT * FROM devices WHERE id = $1', [id]);
    return rows[0] === undefined ? undefined : toDevice(rows[0]);
  }

  async listDevices(): Promise<DeviceRecord[]> {
    const { rows } = await this.pool.query<DeviceRow>('SELECT * FROM devices ORDER BY id');
    return rows.map(toDevice);
  }

  async setStatus(id: string, update: StatusUpdate): Promise<StatusOutcome> {
    return this.pool.tx(async (q) => {
      const { rows } = await q.query<{ conn: string | null }>(
        'SELECT conn FROM devices WHERE id = $1 FOR UPDATE',
        [id],
      );
      const row = rows[0];
      if (row === undefined) return 'unknown-device';
      if (update.online) {
        await q.query(
          'UPDATE devices SET online = TRUE, conn = $1, last_seen = GREATEST(COALESCE(last_seen, 0), $2) WHERE id = $3',
          [update.conn, update.at, id],
        );
        return 'applied';
      }
      // docs/architecture.md "stale will": an offline for another connection than the current one is ignored.
      if (row.conn !== null && row.conn !== update.conn) return 'stale';
      await q.query(
        'UPDATE devices SET online = FALSE, last_seen = GREATEST(COALESCE(last_seen, 0), $1) WHERE id = $2',
        [update.at, id],
      );
      return 'applied';
    });
  }

  async markAllOffline(): Promise<number> {
    const result = await this.pool.query('UPDATE devices SET online = FALSE WHERE online');
    return result.rowCount ?? 0;
  }

  async setReported(id: string, reported: unknown, atMs: number): Promise<boolean> {
    const result = await this.pool.query(
      `UPDATE devices SET reported = $1, reported_at = $2, last_seen = GREATEST(COALESCE(last_seen, 0), $2)
       WHERE id = $3`,
      [JSON.stringify(reported), atMs, id],
    );
    return (result.rowCount ?? 0) > 0;
  }

  async touch(id: string, lastSeenMs: number): Promise<void> {
    await this.pool.query(
      'UPDATE devices SET last_seen = GREATEST(COALESCE(last_seen, 0), $1) WHERE id = $2',
      [lastSeenMs, id],
    );
  }

  async getDesired(id: string): Promise<DesiredState | undefined> {
    const { rows } = await this.pool.query<{ doc: string }>('SELECT doc FROM desired WHERE device_id = $1', [
      id,
    ]);
    return rows[0] === undefined ? undefined : (JSON.parse(rows[0].doc) as DesiredState);
  }

  async putDesired(id: string, config: RemoteConfig, atMs: number): Promise<DesiredState> {
    return this.pool.tx(async (q) => {
      // Locking the device row serialises concurrent puts of several replicas: rev + 1 each.
      const device = await q.query('SELECT 1 FROM devices WHERE id = $1 FOR UPDATE', [id]);
      if (device.rowCount === 0) throw new OutpostError('HUB_DEVICE_NOT_FOUND', `no device ${id}`);
      const previous = await q.query<{ doc: string }>('SELECT doc FROM desired WHERE device_id = $1', [id]);
      const before =
        previous.rows[0] === undefined ? undefined : (JSON.parse(previous.rows[0].doc) as DesiredState);
      const rev = (before?.rev ?? 0) + 1;
      // The other sections (models, …) stay as they are.
      const rest = before === undefined ? {} : desiredBodyOf(before);
      const doc: DesiredState = { v: PROTOCOL_VERSION, rev, at: atMs, ...rest, config };
      await q.query(
        `INSERT INTO desired (device_id, rev, doc) VALUES ($1, $2, $3)
         ON CONFLICT (device_id) DO UPDATE SET rev = excluded.rev, doc = excluded.doc`,
        [id, rev, JSON.stringify(doc)],
      );
      return doc;
    });
  }

  async listDesired(): Promise<Array<{ deviceId: string; desired: DesiredState }>> {
    const { rows } = await this.pool.query<{ device_id: string; doc: string }>(
      'SELECT device_id, doc FROM desired ORDER BY device_id',
    );
    return rows.map((row) => ({ deviceId: row.device_id, desired: JSON.parse(row.doc) as DesiredState }));
  }

  updateDesired(
    ids: readonly DeviceId[],
    mutate: DesiredMutation,
    atMs: number,
  ): Promise<Map<DeviceId, DesiredState>> {
    return updateDesiredPostgres(this.pool, ids, mutate, atMs);
  }

  putModelVariant(
    name: string,
    version: string,
    lineage: Manifest['lineage'],
    variant: ModelVariantRecord,
    atMs: number,
  ): Promise<ModelVersionRecord> {
    return postgresRegistry.putVariant(this.pool, name, version, lineage, variant, atMs);
  }

  getModelVersion(name: string, version: string): Promise<ModelVersionRecord | undefined> {
    return postgresRegistry.get(this.pool, name, version);
  }

  listModelVersions(name?: string): Promise<ModelVersionRecord[]> {
    return postgresRegistry.list(this.pool, name);
  }

  deleteModelVersion(name: string, version: string): Promise<boolean> {
    return postgresRegistry.delete(this.pool, name, version);
  }

  artifactInUse(sha256: string): Promise<boolean> {
    return postgresRegistry.artifactInUse(this.pool, sha256);
  }

  async updateCredentials(deviceId: string, secretHash: string, brokerHash: string): Promise<boolean> {
    const result = await this.pool.query(
      `WITH d AS (UPDATE devices SET secret_hash = $1 WHERE id = $3 RETURNING id)
       INSERT INTO broker_credentials (device_id, hash) SELECT id, $2 FROM d
       ON CONFLICT (device_id) DO UPDATE SET hash = excluded.hash`,
      [secretHash, brokerHash, deviceId],
    );
    return (result.rowCount ?? 0) > 0;
  }

  async deleteDevice(deviceId: string): Promise<boolean> {
    // Desired state, events, high-water marks, skips and broker hash go with it (ON DELETE CASCADE).
    const result = await this.pool.query('DELETE FROM devices WHERE id = $1', [deviceId]);
    return (result.rowCount ?? 0) > 0;
  }

  async putBrokerHash(deviceId: string, hash: string): Promise<boolean> {
    const result = await this.pool.query(
      `INSERT INTO broker_credentials (device_id, hash) SELECT id, $1 FROM devices WHERE id = $2
       ON CONFLICT (device_id) DO UPDATE SET hash = excluded.hash`,
      [hash, deviceId],
    );
    return (result.rowCount ?? 0) > 0;
  }

  async listBrokerHashes(): Promise<Array<{ deviceId: string; hash: string }>> {
    const { rows } = await this.pool.query<{ device_id: string; hash: string }>(
      'SELECT device_id, hash FROM broker_credentials ORDER BY device_id',
    );
    return rows.map((row) => ({ deviceId: row.device_id, hash: row.hash }));
  }

  ingestBatch(deviceId: string, batch: UplinkBatch, receivedAtMs: number): Promise<IngestResult> {
    return ingestPostgres(this.pool, deviceId, batch, receivedAtMs);
  }

  listSkips(deviceId: string): Promise<SkipRange[]> {
    return postgresSkips.list(this.pool, deviceId);
  }

  skipTotals(deviceId: string): Promise<SkipTotal[]> {
    return postgresSkips.totals(this.pool, deviceId);
  }

  pendingRescores(limit: number, unservedModels: readonly string[]): Promise<PendingRescore[]> {
    return postgresRescores.listPending(this.pool, limit, unservedModels);
  }

  putRescore(outcome: RescoreOutcome): Promise<void> {
    return postgresRescores.put(this.pool, outcome);
  }

  listRescores(deviceId: string, limit: number): Promise<RescoreOutcome[]> {
    return postgresRescores.list(this.pool, deviceId, limit);
  }

  listEvents(deviceId: string, query: EventQuery): Promise<StoredEvent[]> {
    return listPostgresEvents(this.pool, deviceId, query);
  }

  countEvents(deviceId?: string): Promise<number> {
    return countPostgresEvents(this.pool, deviceId);
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}
