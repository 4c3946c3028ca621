import { OutpostError } from '../../shared/index.js';
import type { ClientUpdate, ModelWeights } from '../types.js';
import { scaleInPlace, zerosLike } from '../weights.js';
import { accumulateAndMeasure } from './fused-accumulate.js';
import { RoundBook } from './round-book.js';
import { stalenessWeight } from './staleness.js';

/**
 * Streaming weighted mean of deltas (the FedAvg family): one accumulator
 * shaped like the model, each update folded in and dropped, so memory is O(model) whatever
 * the number of clients. Weight of an update = examples · 1/sqrt(1+staleness).
 *
 * Validation and accumulation share one pass over each update: the update is folded into a
 * second, pending accumulator while its sum of squares is taken; an accepted update makes the
 * pending buffer the sum (a swap), a refused one leaves the sum untouched. Two model-sized
 * buffers, still O(model), and one read of each update instead of two.
 */
export class WeightedMean {
  readonly book: RoundBook;
  #sum: ModelWeights;
  #pending: ModelWeights;
  #totalWeight = 0;

  constructor(global: ModelWeights, maxNorm?: number) {
    this.book = new RoundBook(global, maxNorm);
    this.#sum = zerosLike(global);
    this.#pending = zerosLike(global);
  }

  add(update: ClientUpdate) {
    let w = 0;
    const verdict = this.book.admit(update, (delta) => {
      w = update.examples * stalenessWeight(update.staleness ?? 0);
      return accumulateAndMeasure(this.#pending, this.#sum, delta, w);
    });
    if (verdict.ok) {
      [this.#sum, this.#pending] = [this.#pending, this.#sum];
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
