import { z } from 'zod';
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
  /**
   * Federated learning: `artifacts` when this agent takes a round's weights as artifacts
   * over HTTP (it has the hub's HTTP URL and trusted keys), so the hub sends it the task's
   * `weightsArtifact` form and takes its updates as uploads; absent or false: embedded weights
   * and chunk events.
   */
  federated: z.looseObject({ artifacts: z.boolean() }).optional(),
});
export type ReportedState = z.infer<typeof ReportedStateSchema>;
