/** One token bucket: `burst` tokens at most, refilled at `ratePerS`. */
export interface RateBucketRef {
  /** What the bucket limits, e.g. `http.auth.source`; its rate and burst are the same for every key. */
  scope: string;
  key: string;
  ratePerS: number;
  burst: number;
}

/** What {@link RateBucketStore.changeRateBuckets}' plan decides. */
export interface RateBucketPlan<T> {
  /** Tokens to add to each bucket (negative: taken), in the order of the buckets. */
  deltas: readonly number[];
  result: T;
}

/**
 * Token buckets kept in the store, so that every replica charges the same budget and a
 * restart does not refill it. A bucket without a row is full; rows exist while a key has
 * spent tokens (a full bucket's row is deleted, and rows idle long enough to be full again
 * are pruned whenever the scope is charged).
 */
export interface RateBucketStore {
  /** Tokens each bucket holds at `now`, in order (the burst for a bucket without a row). */
  readRateBuckets(buckets: readonly RateBucketRef[], now: number): Promise<number[]>;
  /**
   * Changes buckets in one transaction holding their rows: `plan` sees the tokens each holds
   * at `now` and returns what to add to each (never above the burst) and the call's result.
   */
  changeRateBuckets<T>(
    buckets: readonly RateBucketRef[],
    now: number,
    plan: (tokens: number[]) => RateBucketPlan<T>,
  ): Promise<T>;
}
