import type {
  DesiredState,
  DeviceId,
  DropAnswer,
  Lane,
  RemoteConfig,
  UplinkBatch,
} from '../../shared/index.js';
import type { AgentBundleStore } from './agent-bundle-types.js';
import type { BrokerCredentialStore } from './broker-credentials-types.js';
import type { DeviceLifecycleStore } from './device-lifecycle-types.js';
import type { EventRetentionStore } from './event-retention-types.js';
import type { FlRetentionStore } from './federated-retention-types.js';
import type { FederatedStore } from './federated-types.js';
import type { RateBucketStore } from './rate-bucket-types.js';
import type { RegistryStore } from './registry-types.js';
import type { RolloutStore } from './rollout-types.js';
import type { SecAggStore } from './secagg-types.js';
import type { TelemetryStore } from './telemetry-types.js';

/** One enrolled device as the hub stores it. Times are hub wall-clock milliseconds. */
export interface DeviceRecord {
  id: DeviceId;
  name: string | null;
  labels: Record<string, string>;
  /** scrypt hash of the device secret (see `hub/secrets.ts`); never leaves the hub. */
  secretHash: string;
  createdAt: number;
  /** True between an `online` status and the `offline` (or disconnect) of the same connection. */
  online: boolean;
  /** Connection id (`StatusSchema.conn`) of the latest `online` status. */
  conn: string | null;
  /** Last time any message of this device reached the hub; null before the first. */
  lastSeen: number | null;
  /** The latest reported state, as validated by `ReportedStateSchema`. */
  reported: unknown;
  reportedAt: number | null;
}

/** What enrollment writes. */
export interface NewDevice {
  id: DeviceId;
  name?: string | undefined;
  labels?: Record<string, string> | undefined;
  secretHash: string;
  createdAt: number;
}

/** A status change as received on `…/status` (or derived from a disconnect). */
export interface StatusUpdate {
  online: boolean;
  conn: string;
  /** Hub time of the change, ms; also becomes `lastSeen`. */
  at: number;
}

/**
 * Outcome of {@link HubStore.setStatus}: `applied`, `stale` (an `offline` for a connection
 * that is not the device's current one, docs/architecture.md "stale will"), or `unknown-device`.
 */
export type StatusOutcome = 'applied' | 'stale' | 'unknown-device';

/** One stored uplink event. */
export interface StoredEvent {
  deviceId: DeviceId;
  epoch: string;
  lane: Lane;
  seq: number;
  type: string;
  /** Device clock at enqueue, ms. */
  at: number;
  body: unknown;
  /** Hub clock at ingest, ms. */
  receivedAt: number;
}

/** A position in the event order `(epoch, lane, seq)` used for keyset paging. */
export interface EventPosition {
  epoch: string;
  lane: Lane;
  seq: number;
}

/** Filter and page of {@link HubStore.listEvents}. */
export interface EventQuery {
  lane?: Lane | undefined;
  epoch?: string | undefined;
  /** Only events strictly after this position (in `(epoch, lane, seq)` order). */
  after?: EventPosition | undefined;
  /** Most events returned (the caller bounds it). */
  limit: number;
}

/** Result of {@link HubStore.ingestBatch}. */
export interface IngestResult {
  /** High-water mark of `(device, epoch, lane)` after the batch was committed. */
  hwm: number;
  /** Events of the batch newly stored. */
  stored: number;
  /** Events of the batch at or below the previous high-water mark, ignored. */
  duplicates: number;
  /** Only for a batch carrying `dropped`: seqs newly skipped over. */
  skipped?: number;
  /** Only for a batch carrying `dropped`: the answer the ack carries. */
  dropped?: DropAnswer;
}

/** Seqs `[from, to]` of one lane the hub skipped because the agent dropped them. */
export interface SkipRange {
  epoch: string;
  lane: Lane;
  from: number;
  to: number;
  /** Hub clock when the range was skipped (or last extended), ms. */
  at: number;
}

/** How many seqs of one (epoch, lane) the hub skipped. */
export interface SkipTotal {
  epoch: string;
  lane: Lane;
  count: number;
}

/**
 * The hub's storage, one interface for every backend (docs/storage.md): SQLite (one hub, the
 * default) and PostgreSQL (replicas sharing one database). Async so that the networked backend
 * fits the same contract; each area is written once over the dialect seam (`sql/seam.ts`).
 */
export interface HubStore
  extends RegistryStore,
    AgentBundleStore,
    BrokerCredentialStore,
    DeviceLifecycleStore,
    FederatedStore,
    FlRetentionStore,
    EventRetentionStore,
    RolloutStore,
    TelemetryStore,
    SecAggStore,
    RateBucketStore {
  /** Backend name reported by `/healthz`. */
  readonly kind: string;
  /** Throws `HUB_DEVICE_EXISTS` when the id is taken. */
  createDevice(device: NewDevice): Promise<DeviceRecord>;
  getDevice(id: string): Promise<DeviceRecord | undefined>;
  /** Every device, ordered by id. */
  listDevices(): Promise<DeviceRecord[]>;
  /**
   * Applies a status atomically: `online` records the connection id; `offline` applies only
   * when `conn` is the device's current connection (else `stale`). Updates `lastSeen`.
   */
  setStatus(id: string, update: StatusUpdate): Promise<StatusOutcome>;
  /** Marks every device offline (the embedded broker has no connections after a start). */
  markAllOffline(): Promise<number>;
  /** Stores the latest reported state; false for an unknown device. */
  setReported(id: string, reported: unknown, atMs: number): Promise<boolean>;
  /** Sets `lastSeen` (never moves it backwards). */
  touch(id: string, lastSeenMs: number): Promise<void>;
  getDesired(id: string): Promise<DesiredState | undefined>;
  /**
   * Stores a new desired revision with this `config` section, `rev` = previous + 1 (1 for the
   * first), in one transaction; the other sections (models) are kept as they are.
   * Throws `HUB_DEVICE_NOT_FOUND` for an unknown device.
   */
  putDesired(id: string, config: RemoteConfig, atMs: number): Promise<DesiredState>;
  /** Every stored desired document, to republish retained after a start. */
  listDesired(): Promise<Array<{ deviceId: DeviceId; desired: DesiredState }>>;
  /**
   * Ingests one batch exactly once (docs/architecture.md "Delivery contract"), in one transaction: events
   * at or below the high-water mark are duplicates; consecutive events above it are stored
   * and advance it; an event after a gap ends the batch, storing nothing past the gap.
   * A batch's `dropped.through` above the mark first moves the mark there and records the
   * seqs passed over as skipped (the agent dropped them, they will never come);
   * the result then answers `dropped` with the skipped ranges inside it.
   * Resolves only after the commit. Throws `HUB_DEVICE_NOT_FOUND` for an unknown device.
   */
  ingestBatch(deviceId: string, batch: UplinkBatch, receivedAtMs: number): Promise<IngestResult>;
  /** Every range skipped for a device, in `(epoch, lane, from)` order. */
  listSkips(deviceId: string): Promise<SkipRange[]>;
  /** Seqs skipped per (epoch, lane) of a device. */
  skipTotals(deviceId: string): Promise<SkipTotal[]>;
  /**
   * Queued `inference.rescore` events without a re-score yet, oldest first, skipping models
   * in `unservedModels` (those wait for a hub that serves them).
   */
  pendingRescores(limit: number, unservedModels: readonly string[]): Promise<PendingRescore[]>;
  /** Stores the outcome of one re-score; a second outcome for the same event is ignored. */
  putRescore(outcome: RescoreOutcome): Promise<void>;
  /** Re-scores of one device, in `(epoch, lane, seq)` order. */
  listRescores(deviceId: string, limit: number): Promise<RescoreOutcome[]>;
  /** Events of one device in `(epoch, lane, seq)` order. */
  listEvents(deviceId: string, query: EventQuery): Promise<StoredEvent[]>;
  /** Stored events of one device, or of all devices when `deviceId` is absent. */
  countEvents(deviceId?: string): Promise<number>;
  /** Closes the backend; later calls reject. Idempotent. */
  close(): Promise<void>;
}

/** Key of one stored event. */
export interface EventKey {
  deviceId: string;
  epoch: string;
  lane: Lane;
  seq: number;
}

/** An `inference.rescore` event waiting for the hub's model. */
export interface PendingRescore extends EventKey {
  /** The hub model named by the event (`cloudModel`), or undefined when the body has none. */
  model: string | undefined;
  /** The event body as the device queued it. */
  body: unknown;
}

/** The hub's answer to one queued input: outputs of its model, or why there are none. */
export interface RescoreOutcome extends EventKey {
  model: string;
  version: string | null;
  engine: string | null;
  /** JSON tensors by output name; null when `error` says why not. */
  outputs: Record<string, unknown> | null;
  error: string | null;
  /** Hub wall clock when scored, ms. */
  at: number;
}
