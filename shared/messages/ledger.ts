import { z } from 'zod';
import { laneRecord } from './tolerance.js';

/**
 * Why an event was dropped (loss ledger): `quota` — its lane was full under the
 * `drop-oldest` policy; `ttl` — it waited longer than its lane's time to live (counted in
 * the agent's persisted monotonic clock, never the wall clock).
 */
export const LOSS_REASONS = ['quota', 'ttl'] as const;
export const LossReasonSchema = z.enum(LOSS_REASONS);
export type LossReason = z.infer<typeof LossReasonSchema>;

/** Events and envelope bytes lost for one reason. */
export const LossTotalSchema = z.object({
  count: z.number().int().nonnegative(),
  bytes: z.number().int().nonnegative(),
});
export type LossTotal = z.infer<typeof LossTotalSchema>;

/**
 * The loss ledger of one lane, cumulative over the store's life: what was lost per reason,
 * and how many dropped events still wait for the hub to say whether it had received them
 * before the drop (those are counted as lost only once the hub confirms it never stored
 * them).
 */
export const LaneLedgerSchema = z.object({
  quota: LossTotalSchema,
  ttl: LossTotalSchema,
  unconfirmed: z.number().int().nonnegative(),
});
export type LaneLedger = z.infer<typeof LaneLedgerSchema>;

/** The ledger per lane, as the agent reports it in its state and status; unknown lanes are counted. */
export const LedgerReportSchema = laneRecord(LaneLedgerSchema);
export type LedgerReport = z.infer<typeof LedgerReportSchema>;
