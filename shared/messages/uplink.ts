import { z } from 'zod';
import { EpochMs, LabelSchema, LaneSchema, ProtocolVersion, StoreEpochSchema } from './common.js';
import { PvSchema } from './version.js';

/**
 * One outbox event as it travels (the envelope). `seq` is per device, per epoch and per
 * lane, assigned in the same transaction that stored the event, starting at 1.
 */
export const EventEnvelopeSchema = z.object({
  seq: z.number().int().positive(),
  type: LabelSchema,
  /** Device wall-clock time of the enqueue, ms. Informational: ordering uses `seq`. */
  at: EpochMs,
  body: z.unknown(),
});
export type EventEnvelope = z.infer<typeof EventEnvelopeSchema>;

/** Most events in one uplink batch. */
export const MAX_BATCH_EVENTS = 5000;

/** Most skipped ranges one ack reports (a longer answer is cut short: see {@link DropAnswerSchema}). */
export const MAX_SKIP_RANGES = 256;

const Seq = z.number().int().positive();

/**
 * Loss ledger: the agent dropped (quota or TTL) every event of the lane with
 * `seq ≤ through` that the hub had not acknowledged, and asks what the hub did with the
 * seqs in `[from, through]`. Drops always take the oldest pending events (a prefix), so the
 * hub may advance its high-water mark over them instead of waiting for a gap that will never
 * be filled.
 */
export const DroppedRangeSchema = z
  .object({ from: Seq, through: Seq })
  .refine((r) => r.from <= r.through, { message: 'from must not exceed through' });
export type DroppedRange = z.infer<typeof DroppedRangeSchema>;

/** `outpost/v1/d/{id}/up`: a batch of consecutive events of one lane. */
export const UplinkBatchSchema = z
  .object({
    v: ProtocolVersion,
    /** Protocol major.minor (shared/messages/version.ts); absent from the previous release. */
    pv: PvSchema.optional(),
    epoch: StoreEpochSchema,
    lane: LaneSchema,
    /** Sender-chosen id echoed in the ack; lets the sender match acks to batches. */
    batchId: z.string().min(1).max(64),
    /** Empty only when `dropped` is present (a batch that only reports a drop). */
    events: z.array(EventEnvelopeSchema).max(MAX_BATCH_EVENTS),
    /** Present while the agent has drops the hub has not answered. */
    dropped: DroppedRangeSchema.optional(),
  })
  .superRefine((batch, ctx) => {
    const first = batch.events[0];
    if (first === undefined && batch.dropped === undefined) {
      ctx.addIssue({ code: 'custom', path: ['events'], message: 'a batch without `dropped` needs an event' });
      return;
    }
    if (first && batch.dropped && first.seq <= batch.dropped.through) {
      ctx.addIssue({
        code: 'custom',
        path: ['events', 0, 'seq'],
        message: `a batch never carries a dropped event: seq ${first.seq} ≤ dropped.through ${batch.dropped.through}`,
      });
      return;
    }
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
 * The hub's answer to a batch's `dropped`: within `[from, through]`, the seqs in
 * `skipped` (inclusive `[first, last]` ranges, ascending, disjoint) were never stored — they
 * are lost, and the agent's ledger counts them; every other seq of the range the hub holds
 * (it arrived before the drop, its ack was lost or late). When more than
 * {@link MAX_SKIP_RANGES} ranges would be needed, `through` is cut short and the agent asks
 * again from `through + 1`.
 */
export const DropAnswerSchema = z
  .object({
    from: Seq,
    through: z.number().int().nonnegative(),
    skipped: z.array(z.tuple([Seq, Seq])).max(MAX_SKIP_RANGES),
  })
  .superRefine((answer, ctx) => {
    let floor = answer.from;
    for (const [i, [first, last]] of answer.skipped.entries()) {
      if (first < floor || last < first || last > answer.through) {
        ctx.addIssue({
          code: 'custom',
          path: ['skipped', i],
          message: `range [${first}, ${last}] is not ascending, disjoint and within [${answer.from}, ${answer.through}]`,
        });
        return;
      }
      floor = last + 1;
    }
  });
export type DropAnswer = z.infer<typeof DropAnswerSchema>;

/**
 * `outpost/v1/d/{id}/ack`: the hub has durably stored every event of `lane` in `epoch`
 * up to and including `hwm` (its high-water mark), except the seqs it skipped because the
 * agent dropped them. Cumulative: an ack for hwm N also acknowledges every lower
 * sequence number.
 */
export const AckSchema = z.object({
  v: ProtocolVersion,
  /** Protocol major.minor (shared/messages/version.ts); absent from the previous release. */
  pv: PvSchema.optional(),
  epoch: StoreEpochSchema,
  lane: LaneSchema,
  hwm: z.number().int().nonnegative(),
  /** The batch this ack answers, when it answers one. */
  batchId: z.string().min(1).max(64).optional(),
  /** Events of that batch newly stored, and those the hub already had. */
  stored: z.number().int().nonnegative(),
  duplicates: z.number().int().nonnegative(),
  /** Seqs this batch's `dropped` made the hub skip now (0 or absent when none). */
  skipped: z.number().int().nonnegative().optional(),
  /** The answer to the batch's `dropped`, when it carried one. */
  dropped: DropAnswerSchema.optional(),
});
export type Ack = z.infer<typeof AckSchema>;
