import { OutpostError } from '../../shared/index.js';
import type { AggregateResult, ClientUpdate, ModelWeights, Strategy } from '../types.js';
import { flatten, unflatten } from '../weights.js';
import { stepGlobal } from './fedavg.js';
import { RoundBook } from './round-book.js';

/** The accepted updates of a round under a robust rule, flattened: `rows[i]` belongs to `ids[i]`. */
export interface BufferedRows {
  ids: string[];
  rows: Float32Array[];
  book: RoundBook;
}

/**
 * Builds a robust strategy (FedMedian, trimmed mean, Krum): these rules need every update
 * at once, so memory is O(clients × model) — unlike the FedAvg family. Updates are weighted
 * equally (a client's claimed example count is not trusted by a robust rule); staleness is
 * validated but not used. `combine` returns the aggregate delta (flat) and may discard rows.
 */
export function robustStrategy(
  name: string,
  minUpdates: (n: number) => string | null,
  combine: (rows: BufferedRows) => Float32Array,
  serverLr = 1,
): Strategy {
  return {
    name,
    clientConfig: () => ({}),
    begin(global: ModelWeights, options) {
      const book = new RoundBook(global, options.maxNorm);
      const ids: string[] = [];
      const rows: Float32Array[] = [];
      return {
        add(update: ClientUpdate) {
          const verdict = book.admit(update);
          if (verdict.ok) {
            ids.push(update.clientId);
            rows.push(flatten(update.delta));
          }
          return verdict;
        },
        finish(): AggregateResult {
          book.close();
          const problem = minUpdates(rows.length);
          if (problem) {
            throw new OutpostError('FL_ROUND_FAILED', `${name}: ${problem}`, {
              details: { rejected: book.rejected },
            });
          }
          const delta = unflatten(combine({ ids, rows, book }), global);
          return {
            weights: stepGlobal(global, delta, serverLr),
            accepted: [...book.accepted],
            rejected: [...book.rejected],
            state: null,
          };
        },
      };
    },
  };
}

/** Per coordinate: copies column `k` of `rows` into `scratch`, sorted ascending. */
export function sortedColumn(rows: Float32Array[], k: number, scratch: Float64Array): Float64Array {
  for (let i = 0; i < rows.length; i++) scratch[i] = (rows[i] as Float32Array)[k] as number;
  return scratch.sort();
}
