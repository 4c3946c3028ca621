import { z } from 'zod';
import { EpochMs, ProtocolVersion } from './common.js';
import { PvSchema } from './version.js';

/**
 * `outpost/v1/d/{id}/status` (retained; the `offline` form is also the last will).
 * `conn` identifies one MQTT connection of the device: a will from an older connection
 * that arrives after a newer `online` is stale and must not mark the device offline.
 */
export const StatusSchema = z.object({
  v: ProtocolVersion,
  /** Protocol major.minor (shared/messages/version.ts); absent from the previous release. */
  pv: PvSchema.optional(),
  state: z.enum(['online', 'offline']),
  conn: z.string().min(1).max(64),
  /** Device wall clock when written, ms (for a will: when the connection was opened). */
  at: EpochMs,
});
export type Status = z.infer<typeof StatusSchema>;
