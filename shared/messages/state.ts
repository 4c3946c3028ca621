import { z } from 'zod';
import { InferenceReportSchema } from '../inference.js';
import { EpochMs, ProtocolVersion } from './common.js';
import { LedgerReportSchema } from './ledger.js';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export const LogLevelSchema = z.enum(LOG_LEVELS);
export type LogLevel = z.infer<typeof LogLevelSchema>;

/**
 * Settings the hub may change on a device at run time through the desired state. Every
 * field is optional: an absent field leaves the agent's own configured value in force.
 */
export const RemoteConfigSchema = z.strictObject({
  logLevel: LogLevelSchema.optional(),
  /** Seconds between unprompted reported-state publications. */
  reportIntervalS: z.number().int().min(5).max(86_400).optional(),
  /** Operator labels, shown by the hub, used by selectors in later issues. */
  labels: z.record(z.string().max(64), z.string().max(256)).optional(),
});
export type RemoteConfig = z.infer<typeof RemoteConfigSchema>;

/**
 * `outpost/v1/d/{id}/desired` (retained): what the hub wants the device to be. `rev` grows
 * by one with every change; a device never applies a rev lower than one it applied.
 * Later issues add models and federated tasks.
 */
export const DesiredStateSchema = z.strictObject({
  v: ProtocolVersion,
  rev: z.number().int().nonnegative(),
  /** Hub wall clock when this revision was made, ms. */
  at: EpochMs,
  config: RemoteConfigSchema,
});
export type DesiredState = z.infer<typeof DesiredStateSchema>;

/** How the device fared with the latest desired state it received. */
export const DesiredOutcomeSchema = z.strictObject({
  rev: z.number().int().nonnegative(),
  status: z.enum(['applied', 'rejected', 'stale']),
  /** Why it was rejected or ignored. */
  reason: z.string().max(1024).optional(),
  at: EpochMs,
});
export type DesiredOutcome = z.infer<typeof DesiredOutcomeSchema>;

/**
 * Outbox counters the device reports per lane. Issue 4 adds `dropped` (lost, as the loss
 * ledger counts them), `unconfirmed` (dropped, waiting for the hub to say whether it had
 * them) and `pendingBytes`; `enqueued = pending + acked + dropped + unconfirmed`.
 */
export const LaneReportSchema = z.strictObject({
  pending: z.number().int().nonnegative(),
  enqueued: z.number().int().nonnegative(),
  acked: z.number().int().nonnegative(),
  dropped: z.number().int().nonnegative().optional(),
  unconfirmed: z.number().int().nonnegative().optional(),
  pendingBytes: z.number().int().nonnegative().optional(),
});

/**
 * `outpost/v1/d/{id}/state` (retained): what the device is. Loose on purpose: an older hub
 * keeps fields a newer agent adds, and they are validated once the hub knows them.
 */
export const ReportedStateSchema = z.looseObject({
  v: ProtocolVersion,
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
  /** The loss ledger per lane, cumulative (issue 4). */
  ledger: LedgerReportSchema.optional(),
  host: z
    .looseObject({
      platform: z.string().max(64),
      arch: z.string().max(64),
      hostname: z.string().max(256).optional(),
    })
    .optional(),
  /** Firmware profile, models with their chosen and rejected engines, cache counters (issue 3). */
  inference: InferenceReportSchema.optional(),
});
export type ReportedState = z.infer<typeof ReportedStateSchema>;
