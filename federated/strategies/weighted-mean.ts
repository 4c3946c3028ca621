import { OutpostError } from '../../shared/index.js';
import type { ClientUpdate, ModelWeights } from '../types.js';
import { addScaled, scaleInPlace, zerosLike } from '../weights.js';
import { RoundBook } from './round-book.js';
import { stalenessWeight } from './staleness.js';

/**
 * Streaming weighted mean of deltas (the FedAvg family): one accumulator
 * shaped like the model, each update folded in and dropped, so memory is O(model) whatever
 * the number of clients. Weight of an update = examples · 1/sqrt(1+staleness).
 */
export class WeightedMean {
  readonly book: RoundBook;
  readonly #sum: ModelWeights;
  #totalWeight = 0;

  constructor(global: ModelWeights, maxNorm?: number) {
    this.book = new RoundBook(global, maxNorm);
    this.#sum = zerosLike(global);
  }

  add(update: ClientUpdate) {
    const verdict = this.book.admit(update);
    if (verdict.ok) {
      const w = update.examples * stalenessWeight(update.staleness ?? 0);
      addScaled(this.#sum, update.delta, w);
      this.#totalWeight += w;
    }
    return verdict;
  }

  /** The weighted mean delta; throws `FL_ROUND_FAILED` when no update was accepted. */
  mean(): ModelWeights {
    this.book.close();
    if (this.book.accepted.length === 0) {
      throw new OutpostError(
        'FL_ROUND_FAILED',
        `no update was accepted (${this.book.rejected.length} refused)`,
        {
          details: { rejected: this.book.rejected },
        },
      );
    }
    return scaleInPlace(this.#sum, 1 / this.#totalWeight);
  }
}
