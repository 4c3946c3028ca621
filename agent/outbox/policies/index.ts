import { z } from 'zod';
import { backPressure } from './back-pressure.js';
import { dropOldest } from './drop-oldest.js';
import type { QuotaPolicyFn } from './types.js';

export type { LaneLimits, QuotaDecision, QuotaOverflow, QuotaPolicyFn } from './types.js';

/** Names of the quota policies; config `outbox.lanes.<lane>.policy`. */
export const QuotaPolicySchema = z.enum(['back-pressure', 'drop-oldest']);
export type QuotaPolicy = z.infer<typeof QuotaPolicySchema>;

/** Every quota policy, by name (one per file; an unknown name is a config error). */
export const QUOTA_POLICIES: Readonly<Record<QuotaPolicy, QuotaPolicyFn>> = {
  'back-pressure': backPressure,
  'drop-oldest': dropOldest,
};
