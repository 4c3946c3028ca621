import { LANES, type Lane } from '../../shared/index.js';

/** Weight of each lane in the drain's round robin (config `outbox.weights`). */
export type LaneWeights = Readonly<Record<Lane, number>>;

/**
 * Smooth weighted round robin over the lanes that have something to send (a
 * priority that cannot starve). Each pick adds every eligible lane's weight to its credit,
 * takes the lane with the most credit (ties in `LANES` order) and charges it the total
 * weight of the eligible lanes. Among lanes that stay eligible, any run of `Σ weights`
 * picks gives each lane exactly its weight — with 8/4/2/1, `learning` gets one batch in
 * every 15 however large the other backlogs — and the picks are interleaved, not bunched.
 * A lane with nothing to send keeps no credit, so an idle lane cannot hoard turns.
 */
export class WeightedRoundRobin {
  readonly #weights: LaneWeights;
  readonly #credit = new Map<Lane, number>();

  /** @param weights - positive integers per lane. */
  constructor(weights: LaneWeights) {
    for (const lane of LANES) {
      if (!(weights[lane] >= 1))
        throw new RangeError(`weight of lane ${lane} must be ≥ 1, got ${weights[lane]}`);
    }
    this.#weights = weights;
  }

  /** The lane to serve next among `eligible`; `undefined` when none is. */
  pick(eligible: readonly Lane[]): Lane | undefined {
    let best: Lane | undefined;
    let bestCredit = Number.NEGATIVE_INFINITY;
    let total = 0;
    for (const lane of LANES) {
      if (!eligible.includes(lane)) {
        this.#credit.delete(lane);
        continue;
      }
      const credit = (this.#credit.get(lane) ?? 0) + this.#weights[lane];
      this.#credit.set(lane, credit);
      total += this.#weights[lane];
      if (credit > bestCredit) {
        best = lane;
        bestCredit = credit;
      }
    }
    if (best !== undefined) this.#credit.set(best, bestCredit - total);
    return best;
  }
}
