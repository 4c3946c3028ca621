import { z } from 'zod';

/**
 * Wire protocol major carried by every MQTT payload as `v`; the minor travels beside it as
 * `pv` (shared/messages/version.ts, docs/compatibility.md).
 */
export const PROTOCOL_VERSION = 1;
export const ProtocolVersion = z.literal(PROTOCOL_VERSION);

/** Milliseconds since the Unix epoch (device or hub wall clock, as stated per field). */
export const EpochMs = z.number().int().nonnegative();

/**
 * Outbox lanes: `control` (state, rollout reports) drains first, then results,
 * telemetry and learning (federated updates).
 */
export const LANES = ['control', 'results', 'telemetry', 'learning'] as const;
export const LaneSchema = z.enum(LANES);
export type Lane = z.infer<typeof LaneSchema>;

/**
 * Random id of one agent store (a base64url/hex token). Sequence numbers restart only when
 * a device's store is recreated, and then under a new epoch, so the hub never mistakes a
 * re-flashed device's new events for duplicates.
 */
export const StoreEpochSchema = z
  .string()
  .regex(/^[A-Za-z0-9_-]{8,64}$/, 'epoch must be 8-64 of [A-Za-z0-9_-]');

/** Short free-form label: event types, command names. */
export const LabelSchema = z
  .string()
  .regex(/^[a-z][a-z0-9._-]{0,63}$/, 'must be 1-64 of [a-z0-9._-], starting with a letter');
