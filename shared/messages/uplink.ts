import { z } from 'zod';
import { EpochMs, LabelSchema, LaneSchema, ProtocolVersion, StoreEpochSchema } from './common.js';

/**
 * One outbox event as it travels (the envelope). `seq` is per device, per epoch and per
 * lane, assigned in the same transaction that stored the event, starting at 1.
 */
export const EventEnvelopeSchema = z.strictObject({
  seq: z.number().int().positive(),
  type: LabelSchema,
  /** Device wall-clock time of the enqueue, ms. Informational: ordering uses `seq`. */
  at: EpochMs,
  body: z.unknown(),
});
export type EventEnvelope = z.infer<typeof EventEnvelopeSchema>;

/** Most events in one uplink batch. */
export const MAX_BATCH_EVENTS = 5000;

/** `outpost/v1/d/{id}/up`: a batch of consecutive events of one lane. */
export const UplinkBatchSchema = z
  .strictObject({
    v: ProtocolVersion,
    epoch: StoreEpochSchema,
    lane: LaneSchema,
    /** Sender-chosen id echoed in the ack; lets the sender match acks to batches. */
    batchId: z.string().min(1).max(64),
    events: z.array(EventEnvelopeSchema).min(1).max(MAX_BATCH_EVENTS),
  })
  .superRefine((batch, ctx) => {
    for (let i = 1; i < batch.events.length; i++) {
      const prev = batch.events[i - 1];
      const cur = batch.events[i];
      if (prev && cur && cur.seq !== prev.seq + 1) {
        ctx.addIssue({
          code: 'custom',
          path: ['events', i, 'seq'],
          message: `events must be consecutive: seq ${cur.seq} follows ${prev.seq}`,
        });
        return;
      }
    }
  });
export type UplinkBatch = z.infer<typeof UplinkBatchSchema>;

/**
 * `outpost/v1/d/{id}/ack`: the hub has durably stored every event of `lane` in `epoch`
 * up to and including `hwm` (its high-water mark). Cumulative: an ack for hwm N also
 * acknowledges every lower sequence number.
 */
export const AckSchema = z.strictObject({
  v: ProtocolVersion,
  epoch: StoreEpochSchema,
  lane: LaneSchema,
  hwm: z.number().int().nonnegative(),
  /** The batch this ack answers, when it answers one. */
  batchId: z.string().min(1).max(64).optional(),
  /** Events of that batch newly stored, and those the hub already had. */
  stored: z.number().int().nonnegative(),
  duplicates: z.number().int().nonnegative(),
});
export type Ack = z.infer<typeof AckSchema>;
