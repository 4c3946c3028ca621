import { z } from 'zod';
import { EpochMs, ProtocolVersion } from './common.js';
import { PvSchema } from './version.js';

/**
 * The hub's answer to a device message it cannot process because of the sender's protocol
 * version (a newer major, or a minor outside those it serves), on the device's `ack` topic
 * (QoS 1). Told apart from an ack and a pong by its `refused` key: the channel refused.
 * A device that never sends an unserved version never receives one.
 */
export const RefusalSchema = z.object({
  v: ProtocolVersion,
  pv: PvSchema.optional(),
  refused: z.string().min(1).max(64),
  reason: z.string().max(1024),
  /** Hub wall clock, ms. */
  at: EpochMs,
});
export type Refusal = z.infer<typeof RefusalSchema>;
