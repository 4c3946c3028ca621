/**
 * Retention of federated bytes in the hub's store: bounded, idempotent deletes of the update
 * chunks and global weights no round can use any more (the rule is hub/federated/retention.ts).
 * The accounting rows (`fl_rounds`, `fl_updates`, `fl_evals`) are never deleted here.
 */

/** What one prune statement deleted. */
export interface FlPruned {
  rows: number;
  /** Bytes of the BLOBs deleted (chunk bytes or weights). */
  bytes: number;
}

/** Rows and BLOB bytes the federated tables hold. */
export interface FlStorage {
  chunks: FlPruned;
  weights: FlPruned;
}

/** The retention part of the hub's store. */
export interface FlRetentionStore {
  /**
   * Deletes at most `limit` update chunks of `taskId` that no round can use any more:
   * - every chunk of an update whose outcome is recorded (an `fl_updates` row: accepted,
   *   rejected or late; a round close writes those in the transaction that stores its
   *   aggregate, so the bytes are never read again);
   * - every chunk of a round below `deadBefore` (e.g. a sync task's closed and failed
   *   rounds, or every round of a task that ended);
   * - every chunk of an update of a round below `incompleteBefore` that is not complete
   *   (an async version past `maxStaleness`: no part of it is taken any more);
   *
   * never a chunk of a round that is still open in a running task. Oldest rounds first. Safe to run on two
   * replicas at once (a row deleted by the other is simply not counted; PostgreSQL
   * serialises the batches with an advisory lock).
   */
  pruneFlChunks(
    taskId: string,
    opts: { deadBefore: number; incompleteBefore: number; limit: number },
  ): Promise<FlPruned>;
  /**
   * Deletes at most `limit` global weights of `taskId`: those of rounds below `before`,
   * except the rounds in `keep` and any round still open in a running task. Oldest first; idempotent
   * like {@link pruneFlChunks}.
   */
  pruneFlWeights(
    taskId: string,
    opts: { before: number; keep: readonly number[]; limit: number },
  ): Promise<FlPruned>;
  /** Rows and bytes of update chunks and global weights held, of one task or of all. */
  flStorage(taskId?: string): Promise<FlStorage>;
}
