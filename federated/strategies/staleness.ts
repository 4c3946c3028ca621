/**
 * FedBuff-style staleness discount: an update computed from a model
 * `staleness` server versions old counts `1/sqrt(1+staleness)` times its example count.
 * The polynomial rule `(1+s)^-a` with a = 0.5 is the one Nguyen et al. 2022 (FedBuff) use;
 * it halves the weight at staleness 3 and never reaches zero, so a device that was offline
 * for long still contributes a little. Negative or non-finite staleness is treated by
 * the caller as invalid (see `foldInto`), not clamped.
 */
export function stalenessWeight(staleness: number): number {
  return 1 / Math.sqrt(1 + staleness);
}
