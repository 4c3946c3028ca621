import { join } from 'node:path';
import BetterSqlite3, { type Database, type Statement } from 'better-sqlite3';
import {
  type DesiredState,
  type DeviceId,
  ensurePrivateDir,
  ensurePrivateFile,
  type Manifest,
  OutpostError,
  PROTOCOL_VERSION,
  type RemoteConfig,
  runMigrations,
  type UplinkBatch,
} from '../../shared/index.js';
import type { FederatedStore } from './federated-types.js';
import type { DesiredMutation, ModelVariantRecord, ModelVersionRecord } from './registry-types.js';
import type { RolloutStore } from './rollout-types.js';
import { SqliteBrokerCredentials } from './sqlite-broker-credentials.js';
import { SqliteEvents } from './sqlite-events.js';
import { sqliteFederatedStore } from './sqlite-federated.js';
import { desiredBodyOf, SqliteRegistry } from './sqlite-registry.js';
import { SqliteRescores } from './sqlite-rescores.js';
import { sqliteRolloutStore } from './sqlite-rollouts.js';
import { type DeviceRow, toDevice } from './sqlite-rows.js';
import { HUB_SQLITE_MIGRATIONS } from './sqlite-schema.js';
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

/** File name of the hub database inside the data dir. */
export const HUB_DB_FILE = 'hub.db';

/**
 * Opens (creating when needed) `{dataDir}/hub.db` in WAL mode with `synchronous = FULL`:
 * an ack promises the events are on disk, so a commit must survive power loss too, not
 * only a crash of the process. Runs the numbered migrations.
 */
export function openSqliteHubStore(dataDir: string): HubStore {
  // Owner-only: the store holds device secret hashes and everything devices reported.
  ensurePrivateDir(dataDir);
  ensurePrivateFile(join(dataDir, HUB_DB_FILE));
  const db = new BetterSqlite3(join(dataDir, HUB_DB_FILE));
  try {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.pragma('foreign_keys = ON');
    db.pragma('busy_timeout = 5000');
    runMigrations(db, HUB_SQLITE_MIGRATIONS);
    return new SqliteHubStore(db);
  } catch (err) {
    db.close();
    throw err;
  }
}

// The rollout methods are mixed in from `sqlite-rollouts.ts` by the constructor.
// The federated methods likewise, from `sqlite-federated.ts`.
// biome-ignore lint/correctness/noUnusedVariables: merged with the class below
interface SqliteHubStore extends RolloutStore, FederatedStore {}
// biome-ignore lint/suspicious/noUnsafeDeclarationMerging: the interface's methods are assigned in the constructor
class SqliteHubStore implements HubStore {
  readonly kind = 'sqlite';
  private readonly events: SqliteEvents;
  private readonly rescores: SqliteRescores;
  private readonly brokerCredentials: SqliteBrokerCredentials;
  private readonly registry: SqliteRegistry;
  private readonly stmt: {
    insertDevice: Statement<[string, string | null, string, string, number]>;
    getDevice: Statement<[string], DeviceRow>;
    listDevices: Statement<[], DeviceRow>;
    setOnline: Statement<[string, number, string]>;
    setOffline: Statement<[number, string, string | null]>;
    allOffline: Statement<[]>;
    setReported: Statement<[string, number, number, string]>;
    touch: Statement<[number, string]>;
    getDesired: Statement<[string], { doc: string }>;
    putDesired: Statement<[string, number, string]>;
    listDesired: Statement<[], { device_id: string; doc: string }>;
  };
  private readonly putDesiredTx: (id: string, config: RemoteConfig, atMs: number) => DesiredState;
  private readonly setStatusTx: (id: string, update: StatusUpdate) => StatusOutcome;

  constructor(private readonly db: Database) {
    this.events = new SqliteEvents(db);
    this.rescores = new SqliteRescores(db);
    this.brokerCredentials = new SqliteBrokerCredentials(db);
    this.registry = new SqliteRegistry(db);
    Object.assign(
      this,
      sqliteRolloutStore(db, () => this.open()),
    );
    Object.assign(
      this,
      sqliteFederatedStore(db, () => this.open()),
    );
    this.stmt = {
      insertDevice: db.prepare(
        'INSERT INTO devices (id, name, labels, secret_hash, created_at) VALUES (?, ?, ?, ?, ?)',
      ),
      getDevice: db.prepare('SELECT * FROM devices WHERE id = ?'),
      listDevices: db.prepare('SELECT * FROM devices ORDER BY id'),
      setOnline: db.prepare(
        'UPDATE devices SET online = 1, conn = ?, last_seen = MAX(COALESCE(last_seen, 0), ?) WHERE id = ?',
      ),
      setOffline: db.prepare(
        'UPDATE devices SET online = 0, last_seen = MAX(COALESCE(last_seen, 0), ?) WHERE id = ? AND conn IS ?',
      ),
      allOffline: db.prepare('UPDATE devices SET online = 0 WHERE online = 1'),
      setReported: db.prepare(
        `UPDATE devices SET reported = ?, reported_at = ?, last_seen = MAX(COALESCE(last_seen, 0), ?)
         WHERE id = ?`,
      ),
      touch: db.prepare('UPDATE devices SET last_seen = MAX(COALESCE(last_seen, 0), ?) WHERE id = ?'),
      getDesired: db.prepare('SELECT doc FROM desired WHERE device_id = ?'),
      putDesired: db.prepare(
        `INSERT INTO desired (device_id, rev, doc) VALUES (?, ?, ?)
         ON CONFLICT (device_id) DO UPDATE SET rev = excluded.rev, doc = excluded.doc`,
      ),
      listDesired: db.prepare('SELECT device_id, doc FROM desired ORDER BY device_id'),
    };
    this.putDesiredTx = db.transaction((id: string, config: RemoteConfig, atMs: number) => {
      if (this.stmt.getDevice.get(id) === undefined) {
        throw new OutpostError('HUB_DEVICE_NOT_FOUND', `no device ${id}`);
      }
      const previous = this.stmt.getDesired.get(id);
      const rev = previous === undefined ? 1 : (JSON.parse(previous.doc) as DesiredState).rev + 1;
      // The other sections (models, …) stay as they are.
      const rest = previous === undefined ? {} : desiredBodyOf(JSON.parse(previous.doc) as DesiredState);
      const doc: DesiredState = { v: PROTOCOL_VERSION, rev, at: atMs, ...rest, config };
      this.stmt.putDesired.run(id, rev, JSON.stringify(doc));
      return doc;
    });
    this.setStatusTx = db.transaction((id: string, update: StatusUpdate): StatusOutcome => {
      const row = this.stmt.getDevice.get(id);
      if (row === undefined) return 'unknown-device';
      if (update.online) {
        this.stmt.setOnline.run(update.conn, update.at, id);
        return 'applied';
      }
      // docs/architecture.md "stale will": an offline for another connection than the current one is ignored.
      if (row.conn !== null && row.conn !== update.conn) return 'stale';
      this.stmt.setOffline.run(update.at, id, row.conn);
      return 'applied';
    });
  }

  private open(): Database {
    if (!this.db.open) throw new OutpostError('HUB_STORE_UNAVAILABLE', 'hub store is closed');
    return this.db;
  }

  async createDevice(device: NewDevice): Promise<DeviceRecord> {
    this.open();
    try {
      this.stmt.insertDevice.run(
        device.id,
        device.name ?? null,
        JSON.stringify(device.labels ?? {}),
        device.secretHash,
        device.createdAt,
      );
    } catch (err) {
      if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_PRIMARYKEY') {
        throw new OutpostError('HUB_DEVICE_EXISTS', `a device with id ${device.id} already exists`);
      }
      throw err;
    }
    const row = this.stmt.getDevice.get(device.id);
    if (row === undefined)
      throw new OutpostError('HUB_INTERNAL', `device ${device.id} vanished after insert`);
    return toDevice(row);
  }

  async getDevice(id: string): Promise<DeviceRecord | undefined> {
    this.open();
    const row = this.stmt.getDevice.get(id);
    return row === undefined ? undefined : toDevice(row);
  }

  async listDevices(): Promise<DeviceRecord[]> {
    this.open();
    return this.stmt.listDevices.all().map(toDevice);
  }

  async setStatus(id: string, update: StatusUpdate): Promise<StatusOutcome> {
    this.open();
    return this.setStatusTx(id, update);
  }

  async markAllOffline(): Promise<number> {
    this.open();
    return this.stmt.allOffline.run().changes;
  }

  async setReported(id: string, reported: unknown, atMs: number): Promise<boolean> {
    this.open();
    return this.stmt.setReported.run(JSON.stringify(reported), atMs, atMs, id).changes > 0;
  }

  async touch(id: string, lastSeenMs: number): Promise<void> {
    this.open();
    this.stmt.touch.run(lastSeenMs, id);
  }

  async getDesired(id: string): Promise<DesiredState | undefined> {
    this.open();
    const row = this.stmt.getDesired.get(id);
    return row === undefined ? undefined : (JSON.parse(row.doc) as DesiredState);
  }

  async putDesired(id: string, config: RemoteConfig, atMs: number): Promise<DesiredState> {
    this.open();
    return this.putDesiredTx(id, config, atMs);
  }

  async listDesired(): Promise<Array<{ deviceId: string; desired: DesiredState }>> {
    this.open();
    return this.stmt.listDesired
      .all()
      .map((row) => ({ deviceId: row.device_id, desired: JSON.parse(row.doc) as DesiredState }));
  }

  async updateDesired(
    deviceIds: readonly DeviceId[],
    mutate: DesiredMutation,
    atMs: number,
  ): Promise<Map<DeviceId, DesiredState>> {
    this.open();
    return this.registry.updateDesired(deviceIds, mutate, atMs);
  }

  async putModelVariant(
    name: string,
    version: string,
    lineage: Manifest['lineage'],
    variant: ModelVariantRecord,
    atMs: number,
  ): Promise<ModelVersionRecord> {
    this.open();
    return this.registry.putModelVariant(name, version, lineage, variant, atMs);
  }

  async getModelVersion(name: string, version: string): Promise<ModelVersionRecord | undefined> {
    this.open();
    return this.registry.getModelVersion(name, version);
  }

  async listModelVersions(name?: string): Promise<ModelVersionRecord[]> {
    this.open();
    return this.registry.listModelVersions(name);
  }

  async deleteModelVersion(name: string, version: string): Promise<boolean> {
    this.open();
    return this.registry.deleteModelVersion(name, version);
  }

  async artifactInUse(sha256: string): Promise<boolean> {
    this.open();
    return this.registry.artifactInUse(sha256);
  }

  async putBrokerHash(deviceId: string, hash: string): Promise<boolean> {
    this.open();
    return this.brokerCredentials.store(deviceId, hash);
  }

  async listBrokerHashes(): Promise<Array<{ deviceId: string; hash: string }>> {
    this.open();
    return this.brokerCredentials.list();
  }

  async ingestBatch(deviceId: string, batch: UplinkBatch, receivedAtMs: number): Promise<IngestResult> {
    this.open();
    return this.events.ingest(deviceId, batch, receivedAtMs);
  }

  async listSkips(deviceId: string): Promise<SkipRange[]> {
    this.open();
    return this.events.listSkips(deviceId);
  }

  async skipTotals(deviceId: string): Promise<SkipTotal[]> {
    this.open();
    return this.events.skipTotals(deviceId);
  }

  async pendingRescores(limit: number, unservedModels: readonly string[]): Promise<PendingRescore[]> {
    this.open();
    return this.rescores.listPending(limit, unservedModels);
  }

  async putRescore(outcome: RescoreOutcome): Promise<void> {
    this.open();
    this.rescores.put(outcome);
  }

  async listRescores(deviceId: string, limit: number): Promise<RescoreOutcome[]> {
    this.open();
    return this.rescores.list(deviceId, limit);
  }

  async listEvents(deviceId: string, query: EventQuery): Promise<StoredEvent[]> {
    this.open();
    return this.events.list(deviceId, query);
  }

  async countEvents(deviceId?: string): Promise<number> {
    this.open();
    return this.events.count(deviceId);
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}
