import type { Lane } from '../../shared/index.js';

/**
 * Retention of uplink events in the hub's store: bounded deletes of old events that every
 * reader of the store has consumed (the rule is hub/events/retention.ts). The delivery state
 * (`hwm`, the loss ledger `skips`) and device rows are never touched here: exactly-once rests
 * on the high-water marks alone, not on the event rows.
 */

/** One `(device, epoch, lane)` of the store, as its high-water mark names it. */
export interface EventLaneRef {
  deviceId: string;
  epoch: string;
  lane: Lane;
}

/** Learning-lane events a caller keeps beyond the store's own rule (the async staleness window). */
export interface LearningKeep {
  task: string;
  /** Events of this task with a round at or above this one are kept. */
  fromRound: number;
}

/** What one prune batch did. */
export interface EventsPruned {
  /** Events deleted. */
  deleted: number;
  /** The highest seq the batch looked at (continue after it), or the `afterSeq` given when none. */
  lastSeq: number;
  /** A young event was reached, or fewer than `limit` were left: the lane is done for this pass. */
  done: boolean;
}

/** The event-retention part of the hub's store. */
export interface EventRetentionStore {
  /** Up to `limit` lanes (every `hwm` row) after `after`, in key order. */
  listEventLanes(after: EventLaneRef | undefined, limit: number): Promise<EventLaneRef[]>;
  /**
   * Deletes, of lane `ref`, events after `afterSeq` received before `receivedBefore`, looking
   * at most `limit` of them (oldest seq first) and stopping at the first one received at or
   * after it (a lane's events are stored in seq order, so the rest are younger; a pass reads
   * the old prefix of each lane, never its young rows), except any that a reader still needs:
   * - telemetry lane: an event past the telemetry fold's cursor or the model-metrics fold's
   *   cursor of its (device, epoch) is kept until both folds have read it;
   * - `inference.rescore` events are never deleted (pending ones wait for the re-scorer; a
   *   done one's outcome row references it);
   * - learning lane: an event whose body's `(task, round)` is a round still open in a running
   *   task is kept, and so is one matched by `keep`.
   *
   * Safe to run on two replicas at once (PostgreSQL: each batch under an advisory lock; a row
   * the other deleted is not counted).
   */
  pruneEvents(
    ref: EventLaneRef,
    opts: { receivedBefore: number; afterSeq: number; keep: readonly LearningKeep[]; limit: number },
  ): Promise<EventsPruned>;
}
