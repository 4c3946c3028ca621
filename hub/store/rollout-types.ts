import type {
  DeviceId,
  MetricCounters,
  ModelRole,
  RolloutRequest,
  RolloutState,
} from '../../shared/index.js';

/** One rollout as stored. Times are hub wall-clock ms. */
export interface RolloutRecord {
  /** `r-` + 12 random hex characters; also the cohort hash salt. */
  id: string;
  /** The request as validated (model, version, mode, selector, stages, bake, gates, deadline). */
  spec: RolloutRequest;
  state: RolloutState;
  /** Index into `spec.stages` of the current stage. */
  stage: number;
  /** When the current stage began (its bake time counts from here). */
  stageStartedAt: number;
  createdAt: number;
  updatedAt: number;
  /** Why it reached a final state (a failed gate with its value, an operator action). */
  reason: string | null;
}

/** Which side of an A/B rollout a device is on; `candidate` for canary and shadow. */
export type RolloutArm = 'candidate' | 'control';

/** One device a rollout assigned. */
export interface RolloutDevice {
  rolloutId: string;
  deviceId: DeviceId;
  arm: RolloutArm;
  /** The version whose metrics this device must report, and in which role. */
  version: string;
  role: ModelRole;
  /** Stage index at which it was assigned. */
  stage: number;
  assignedAt: number;
  /** The model version the device's desired state named before (what a rollback restores). */
  previous: string | null;
  /** First metrics of `version` in `role` from this device, attributed to this rollout. */
  reportedAt: number | null;
  /** Past its deadline without reporting: it no longer holds the rollout. */
  excludedAt: number | null;
  /** Desired state restored by a rollback (or abort). */
  rolledBackAt: number | null;
}

/** One entry of a rollout's timeline. */
export interface RolloutEvent {
  rolloutId: string;
  /** 1, 2, … in order. */
  seq: number;
  at: number;
  /** e.g. `created`, `assigned`, `stage`, `gate-failed`, `rolled-back`, `paused`, `excluded`. */
  kind: string;
  stage: number;
  /** Human-readable one-liner. */
  message: string;
  detail: unknown;
}

/** A rollout change plus the timeline entry that explains it, stored together. */
export interface RolloutUpdate {
  state?: RolloutState;
  stage?: number;
  stageStartedAt?: number;
  reason?: string | null;
}

/** Aggregated model counters of one device (hub aggregation). */
export interface ModelCounterRow {
  /** The rollout the reports were attributed to; `''` when none. */
  rolloutId: string;
  deviceId: DeviceId;
  model: string;
  version: string;
  role: ModelRole;
  counters: MetricCounters;
  /** Device wall clock of the first and last report windows, ms. */
  firstAt: number;
  lastAt: number;
}

/** What one fold pass did. */
export interface FoldResult {
  /** `telemetry.model` events folded into counters. */
  events: number;
  /** Events whose body did not match `ModelTelemetrySchema` (skipped, counted, never retried). */
  invalid: number;
  /** Rollout devices that reported for the first time in this pass. */
  firstReports: number;
}

/**
 * Rollout storage, part of every hub store backend. Aggregation is
 * derived from ingested `telemetry.model` events with a persisted cursor per (device,
 * epoch): {@link foldModelTelemetry} reads the events past the cursor, adds them into the
 * counters and moves the cursor in ONE transaction, so a crash at any point never counts an
 * event twice nor skips one, and ingest (and its acks) never waits for aggregation.
 */
export interface RolloutStore {
  /** Stores a new rollout in state `running`, stage 0, with a `created` timeline entry. */
  createRollout(
    id: string,
    spec: RolloutRequest,
    atMs: number,
    created: Omit<RolloutEvent, 'rolloutId' | 'seq'>,
  ): Promise<RolloutRecord>;
  getRollout(id: string): Promise<RolloutRecord | undefined>;
  /** Every rollout, newest first. */
  listRollouts(): Promise<RolloutRecord[]>;
  /**
   * Applies `update` and appends `event` in one transaction. Throws `HUB_ROLLOUT_NOT_FOUND`.
   * With `expect`, only applies when the state is one of those (else `HUB_ROLLOUT_CONFLICT`).
   */
  updateRollout(
    id: string,
    update: RolloutUpdate,
    event: Omit<RolloutEvent, 'rolloutId' | 'seq'> | undefined,
    atMs: number,
    expect?: readonly RolloutState[],
  ): Promise<RolloutRecord>;
  /** Appends timeline entries. */
  appendRolloutEvents(events: ReadonlyArray<Omit<RolloutEvent, 'seq'>>): Promise<void>;
  listRolloutEvents(id: string): Promise<RolloutEvent[]>;
  /**
   * Inserts or replaces device assignments (by rollout id and device id), and appends the
   * timeline entries that say why (`events`) in the same transaction: a driver killed right
   * after never leaves devices assigned without the entry that records it.
   */
  putRolloutDevices(
    devices: readonly RolloutDevice[],
    events?: ReadonlyArray<Omit<RolloutEvent, 'seq'>>,
  ): Promise<void>;
  listRolloutDevices(id: string): Promise<RolloutDevice[]>;
  /** Folds up to `limit` new `telemetry.model` events into counters (see the interface doc). */
  foldModelTelemetry(limit: number): Promise<FoldResult>;
  /** Counters of one rollout, or of one model (any rollout) when `rolloutId` is undefined. */
  modelCounters(query: { rolloutId?: string; model?: string; deviceId?: string }): Promise<ModelCounterRow[]>;
}
