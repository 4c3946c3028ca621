import { z } from 'zod';
import { BundlePlatformSchema, SignedAgentBundleSchema } from '../agent-bundle.js';
import { InferenceReportSchema } from '../inference.js';
import { ManifestSchema, SemverSchema, SignedManifestSchema } from '../manifest.js';
import { EpochMs, ProtocolVersion } from './common.js';
import { FederatedSectionSchema } from './federated.js';
import { LedgerReportSchema } from './ledger.js';
import { PvSchema } from './version.js';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export const LogLevelSchema = z.enum(LOG_LEVELS);
export type LogLevel = z.infer<typeof LogLevelSchema>;

/**
 * Settings the hub may change on a device at run time through the desired state. Every
 * field is optional: an absent field leaves the agent's own configured value in force.
 */
export const RemoteConfigSchema = z.object({
  logLevel: LogLevelSchema.optional(),
  /** Seconds between unprompted reported-state publications. */
  reportIntervalS: z.number().int().min(5).max(86_400).optional(),
  /** Operator labels, shown by the hub, used by selectors in later issues. */
  labels: z.record(z.string().max(64), z.string().max(256)).optional(),
});
export type RemoteConfig = z.infer<typeof RemoteConfigSchema>;

/** The signed manifests of one model version: one per variant (fp32, fp16, int8). */
export const VersionManifestsSchema = z.array(SignedManifestSchema).min(1).max(3);

/**
 * One model the hub wants on a device: the version to run with its signed
 * variant manifests. The agent picks the variant its profile prefers, downloads, verifies and
 * activates it; it refuses a version older than the active one unless `allowDowngrade`.
 */
export const DesiredModelSchema = z.object({
  name: ManifestSchema.shape.name,
  version: SemverSchema,
  manifests: VersionManifestsSchema,
  /** Set by a rollback: the device may activate a version older than its active one. */
  allowDowngrade: z.boolean().optional(),
  /** A candidate to run beside the active version on the same inputs (shadow mode). */
  shadow: z.object({ version: SemverSchema, manifests: VersionManifestsSchema }).optional(),
  /** Id of the rollout that set this entry, if any. */
  rollout: z.string().min(1).max(128).optional(),
});
export type DesiredModel = z.infer<typeof DesiredModelSchema>;

/**
 * The agent release the hub wants on a device (docs/agent-updates.md): the version and its
 * signed bundles, one per platform (the device takes the one made for its os, arch, libc and
 * Node ABI). No bundle means the version is expected in the device's other install slot (a
 * rollback to the release it ran before). The agent refuses a version older than the one
 * it runs unless `allowDowngrade`.
 */
export const DesiredAgentSchema = z.object({
  version: SemverSchema,
  bundles: z.array(SignedAgentBundleSchema).max(16),
  /** Set by a rollback: the device may go back to an older release. */
  allowDowngrade: z.boolean().optional(),
  /** Id of the rollout that set this section, if any. */
  rollout: z.string().min(1).max(128).optional(),
});
export type DesiredAgent = z.infer<typeof DesiredAgentSchema>;

/**
 * `outpost/v1/d/{id}/desired` (retained): what the hub wants the device to be. `rev` grows
 * by one with every change; a device never applies a rev lower than one it applied.
 * Sections: `config`, `models`; later issues add a federated task.
 */
export const DesiredStateSchema = z.object({
  v: ProtocolVersion,
  /** Protocol major.minor (shared/messages/version.ts); absent from the previous release. */
  pv: PvSchema.optional(),
  rev: z.number().int().nonnegative(),
  /** Hub wall clock when this revision was made, ms. */
  at: EpochMs,
  config: RemoteConfigSchema,
  /** Models the device should run, one entry per model name. */
  models: z.array(DesiredModelSchema).max(256).optional(),
  /** The federated task this device takes part in. */
  federated: FederatedSectionSchema.optional(),
  /** The agent release this device should run (over-the-air update). */
  agent: DesiredAgentSchema.optional(),
});
export type DesiredState = z.infer<typeof DesiredStateSchema>;

/** How the device fared with the latest desired state it received. */
export const DesiredOutcomeSchema = z.object({
  rev: z.number().int().nonnegative(),
  status: z.enum(['applied', 'rejected', 'stale']),
  /** Why it was rejected or ignored. */
  reason: z.string().max(1024).optional(),
  at: EpochMs,
});
export type DesiredOutcome = z.infer<typeof DesiredOutcomeSchema>;

/**
 * Outbox counters the device reports per lane. `dropped` counts (lost, as the loss
 * ledger counts them), `unconfirmed` (dropped, waiting for the hub to say whether it had
 * them) and `pendingBytes`; `enqueued = pending + acked + dropped + unconfirmed`.
 */
export const LaneReportSchema = z.object({
  pending: z.number().int().nonnegative(),
  enqueued: z.number().int().nonnegative(),
  acked: z.number().int().nonnegative(),
  dropped: z.number().int().nonnegative().optional(),
  unconfirmed: z.number().int().nonnegative().optional(),
  pendingBytes: z.number().int().nonnegative().optional(),
});

/**
 * Delivery of one model on a device: what runs, what it falls back to,
 * what is downloading, and why the latest desired version was refused, if it was.
 */
export const ModelDeliveryReportSchema = z.object({
  name: z.string().max(64),
  /** The version the desired state asks for, if any. */
  desired: SemverSchema.optional(),
  /** The active version and its variant; absent before the first activation. */
  active: z.object({ version: SemverSchema, precision: z.enum(['fp32', 'fp16', 'int8']) }).optional(),
  /** The version kept loaded for an instant rollback. */
  previous: SemverSchema.optional(),
  /** Shadow candidate and whether it is loaded. */
  shadow: z.object({ version: SemverSchema, loaded: z.boolean() }).optional(),
  /** A download in progress: bytes on disk of `total`. */
  downloading: z
    .object({
      version: SemverSchema,
      bytes: z.number().int().nonnegative(),
      total: z.number().int().nonnegative(),
    })
    .optional(),
  /** The last refusal: never activated, with the error code and reason. */
  refused: z
    .object({
      version: z.string().max(64),
      code: z.string().max(64),
      reason: z.string().max(1024),
      at: EpochMs,
    })
    .optional(),
});
export type ModelDeliveryReport = z.infer<typeof ModelDeliveryReportSchema>;

/**
 * How the agent is updated and where its update stands (docs/agent-updates.md). Loose (string
 * states): a newer agent's states are shown as they come, never a reason to drop the report.
 */
export const AgentUpdateReportSchema = z.object({
  /**
   * `launcher`: run by the launcher from an install slot, updated over the air; `image`: a
   * container, updated by a new image; `none`: started directly, updated by reinstalling.
   */
  managedBy: z.string().max(16),
  /** The install slot this agent runs from (`a` or `b`), under the launcher. */
  slot: z.string().max(8).optional(),
  /** The platform bundles must be made for. */
  platform: BundlePlatformSchema.optional(),
  /**
   * `current` (runs the desired release, or none is desired), `downloading`, `installing`
   * (handed to the launcher), `trial` (a new release not yet confirmed healthy), `failed` (the
   * desired release was reverted), `refused` (the desired release cannot be installed here).
   */
  state: z.string().max(32),
  /** The release the desired state asks for, if any. */
  desired: SemverSchema.optional(),
  downloading: z
    .object({
      version: SemverSchema,
      bytes: z.number().int().nonnegative(),
      total: z.number().int().nonnegative(),
    })
    .optional(),
  /** This release runs on trial: reverted unless it confirms its health by `deadline`. */
  trial: z.object({ from: z.string().max(64), deadline: EpochMs }).optional(),
  /**
   * How this release came up after the launcher switched to it: when, from which release, and
   * the time from the switch to its first connection to the hub (null before it).
   */
  switched: z
    .object({
      from: z.string().max(64),
      at: EpochMs,
      backOnlineMs: z.number().int().nonnegative().nullable(),
    })
    .optional(),
  /**
   * The last release the launcher reverted, and why (kept until an update succeeds), with the
   * rollout that asked for it.
   */
  failed: z
    .object({
      version: z.string().max(64),
      reason: z.string().max(1024),
      at: EpochMs,
      rollout: z.string().max(128).optional(),
    })
    .optional(),
  /** Why the desired release is not installed here (wrong platform, a downgrade, a bad signature …). */
  refused: z
    .object({
      version: z.string().max(64),
      code: z.string().max(64),
      reason: z.string().max(1024),
      at: EpochMs,
    })
    .optional(),
  /** Times the launcher restarted this release after it exited on its own. */
  crashes: z.number().int().nonnegative(),
  /** Error-or-worse log lines of this agent since it started. */
  errors: z.number().int().nonnegative(),
  /** False while a lane that had events waiting at start has had none acknowledged since. */
  outboxDraining: z.boolean().optional(),
});
export type AgentUpdateReport = z.infer<typeof AgentUpdateReportSchema>;

/**
 * `outpost/v1/d/{id}/state` (retained): what the device is. Loose on purpose: an older hub
 * keeps fields a newer agent adds, and they are validated once the hub knows them.
 */
export const ReportedStateSchema = z.looseObject({
  v: ProtocolVersion,
  /** Protocol major.minor (shared/messages/version.ts); absent from the previous release. */
  pv: PvSchema.optional(),
  /** Device wall clock at publication, ms. */
  at: EpochMs,
  agentVersion: z.string().max(64),
  epoch: z.string().max(64),
  /** Device start time, ms. */
  startedAt: EpochMs,
  /** Highest desired rev applied; 0 before any. */
  appliedRev: z.number().int().nonnegative(),
  /** The outcome of the most recent desired state received, if any. */
  desired: DesiredOutcomeSchema.optional(),
  /** The remote config in force. */
  config: RemoteConfigSchema,
  outbox: z.record(z.string(), LaneReportSchema),
  /** The loss ledger per lane, cumulative. */
  ledger: LedgerReportSchema.optional(),
  host: z
    .looseObject({
      platform: z.string().max(64),
      arch: z.string().max(64),
      hostname: z.string().max(256).optional(),
    })
    .optional(),
  /** Firmware profile, models with their chosen and rejected engines, cache counters. */
  inference: InferenceReportSchema.optional(),
  /** Model delivery per model name. */
  models: z.array(ModelDeliveryReportSchema).max(256).optional(),
  /** The MQTT link: its last error (before this connection, typically), null when none. */
  link: z.object({ lastError: z.string().max(1024).nullable() }).optional(),
  /** How the agent is updated and where its update stands. */
  update: AgentUpdateReportSchema.optional(),
  /**
   * Federated learning: `artifacts` when this agent takes a round's weights as artifacts
   * over HTTP (it has the hub's HTTP URL and trusted keys), so the hub sends it the task's
   * `weightsArtifact` form and takes its updates as uploads; absent or false: embedded weights
   * and chunk events.
   */
  federated: z.looseObject({ artifacts: z.boolean() }).optional(),
});
export type ReportedState = z.infer<typeof ReportedStateSchema>;
