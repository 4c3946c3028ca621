import { OutpostError } from '../../shared/index.js';
import type { AggregateResult, ClientUpdate, ModelWeights, ValidationResult } from '../types.js';
import { checkStructure, judgeValues, sumOfSquares } from '../validate.js';
import type { TensorShape } from '../weights.js';

/**
 * The bookkeeping every strategy shares: validation before any math,
 * duplicate and example-count checks, and the accepted/rejected lists.
 */
export class RoundBook {
  readonly accepted: string[] = [];
  readonly rejected: AggregateResult['rejected'] = [];
  readonly #seen = new Set<string>();
  readonly #shapes: ReadonlyArray<TensorShape>;
  readonly #maxNorm: number;
  #finished = false;

  constructor(global: ModelWeights, maxNorm = Number.POSITIVE_INFINITY) {
    this.#shapes = global.map((t) => ({ name: t.name, shape: t.shape }));
    this.#maxNorm = maxNorm;
  }

  /**
   * Validates `update`; on success records it as accepted and returns ok, else records the
   * refusal. `valuesPass`, when given, replaces the plain sum-of-squares pass: it runs only
   * once the update's structure is valid, returns the sum of squares of every value (the
   * finiteness and norm checks are then made on it exactly as `validateUpdate` makes them),
   * and may do other work in the same pass (a fused accumulate) as long as that work is
   * undone or discarded when the verdict is a refusal.
   */
  admit(update: ClientUpdate, valuesPass: (delta: ModelWeights) => number = sumOfSquares): ValidationResult {
    if (this.#finished)
      throw new OutpostError('FL_ROUND_FAILED', 'the aggregation has finished; begin a new one');
    const verdict = this.#check(update, valuesPass);
    if (verdict.ok) {
      this.#seen.add(update.clientId);
      this.accepted.push(update.clientId);
    } else {
      this.rejected.push({ clientId: update.clientId, reason: verdict.reason, detail: verdict.detail });
    }
    return verdict;
  }

  /** Moves an accepted client to the rejected list (robust rules that discard whole updates). */
  discard(clientId: string, detail: string): void {
    const i = this.accepted.indexOf(clientId);
    if (i >= 0) this.accepted.splice(i, 1);
    this.rejected.push({ clientId, reason: 'robust-rule', detail });
  }

  /** Marks the round finished (a second `finish()` or a late `add()` throws). */
  close(): void {
    if (this.#finished) throw new OutpostError('FL_ROUND_FAILED', 'finish() was already called');
    this.#finished = true;
  }

  #check(update: ClientUpdate, valuesPass: (delta: ModelWeights) => number): ValidationResult {
    if (this.#seen.has(update.clientId)) {
      return {
        ok: false,
        reason: 'duplicate',
        detail: `${update.clientId} already contributed to this round`,
      };
    }
    if (!(Number.isFinite(update.examples) && update.examples > 0)) {
      return {
        ok: false,
        reason: 'examples',
        detail: `examples must be a positive number, got ${update.examples}`,
      };
    }
    const s = update.staleness ?? 0;
    if (!(Number.isInteger(s) && s >= 0)) {
      return { ok: false, reason: 'staleness', detail: `staleness must be a non-negative integer, got ${s}` };
    }
    const structure = checkStructure(update.delta, this.#shapes);
    if (!structure.ok) return structure;
    return judgeValues(update.delta, valuesPass(update.delta), this.#maxNorm);
  }
}
