import { z } from 'zod';
import { EpochMs, ProtocolVersion } from './common.js';
import { PvSchema } from './version.js';

/**
 * `outpost/v1/d/{id}/ping` (QoS 0, device → hub): the application-level ping that finds dead links
 * ("dead links"). MQTT keepalive only proves the TCP path to the broker while the link is
 * idle; this proves the hub itself answers, busy or not. `id` is echoed in the pong.
 */
export const PingSchema = z.object({
  v: ProtocolVersion,
  /** Protocol major.minor (shared/messages/version.ts); absent from the previous release. */
  pv: PvSchema.optional(),
  id: z.string().min(1).max(64),
  /** Device wall clock when sent, ms (informational). */
  at: EpochMs,
});
export type Ping = z.infer<typeof PingSchema>;

/**
 * The hub's answer to a ping, on the device's `ack` topic (QoS 0: a late pong is useless).
 * Told apart from an {@link AckSchema ack} by its `pong` key.
 */
export const PongSchema = z.object({
  v: ProtocolVersion,
  /** Protocol major.minor (shared/messages/version.ts); absent from the previous release. */
  pv: PvSchema.optional(),
  /** The ping's `id`. */
  pong: z.string().min(1).max(64),
  /** Hub wall clock when answered, ms. */
  at: EpochMs,
});
export type Pong = z.infer<typeof PongSchema>;
