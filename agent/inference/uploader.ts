import type { Logger } from 'pino';
import { type TensorMap, tensorToJson } from '../../inference/index.js';
import { isOutpostError } from '../../shared/index.js';
import type { ModelPolicy } from './model-store.js';

/** What one answered inference was. */
export interface ResultRecord {
  model: string;
  version: string;
  precision: string;
  engine: string;
  cached: boolean;
  inputDigest: string;
  outputs: TensorMap;
}

/** Upload counters per model since start. */
export interface UploadCounters {
  queued: number;
  skipped: number;
  /** Results refused by the outbox (too large, lane full): logged at warn, never silent. */
  refused: number;
}

/**
 * Queues inference results in the outbox `results` lane per the model's upload policy:
 * `none`, `all`, or `sampled` — systematic sampling, the n-th result of a model is
 * queued when ⌊n·rate⌋ grows, so exactly that fraction is queued, deterministically.
 */
export class ResultUploader {
  readonly #enqueue: (event: { type: string; body: unknown; lane: 'results' }) => unknown;
  readonly #log: Logger;
  readonly #counters = new Map<string, UploadCounters>();

  constructor(enqueue: (event: { type: string; body: unknown; lane: 'results' }) => unknown, log: Logger) {
    this.#enqueue = enqueue;
    this.#log = log;
  }

  /** The previous `skip` call's model and its counts (most calls repeat the model: no lookups). */
  #lastSkip: { model: string; seen: { n: number }; counters: UploadCounters } | undefined;
  readonly #seenOf = new Map<string, { n: number }>();

  /** Counts one result of a model whose policy uploads nothing (what `offer` does for `none`). */
  skip(model: string): void {
    let last = this.#lastSkip;
    if (last === undefined || last.model !== model) {
      last = { model, seen: this.#seen(model), counters: this.counters(model) };
      this.#lastSkip = last;
    }
    last.seen.n++;
    last.counters.skipped++;
  }

  /** The systematic-sampling count of a model (results seen since start). */
  #seen(model: string): { n: number } {
    let seen = this.#seenOf.get(model);
    if (seen === undefined) {
      seen = { n: 0 };
      this.#seenOf.set(model, seen);
    }
    return seen;
  }

  /** Applies `policy` to one result; true when it was queued. Never throws. */
  offer(policy: ModelPolicy, result: ResultRecord, at: number): boolean {
    const counters = this.counters(result.model);
    const seen = this.#seen(result.model);
    const n = ++seen.n;
    const take =
      policy.upload === 'all' ||
      (policy.upload === 'sampled' &&
        Math.floor(n * policy.sampleRate) > Math.floor((n - 1) * policy.sampleRate));
    if (!take) {
      counters.skipped++;
      return false;
    }
    const outputs: Record<string, unknown> = {};
    for (const [name, t] of Object.entries(result.outputs)) outputs[name] = tensorToJson(t);
    try {
      this.#enqueue({
        type: 'inference.result',
        lane: 'results',
        body: { ...result, outputs, at },
      });
      counters.queued++;
      return true;
    } catch (err) {
      counters.refused++;
      this.#log.warn(
        { model: result.model, code: isOutpostError(err) ? err.code : undefined, err },
        'inference result not queued for upload',
      );
      return false;
    }
  }

  /** Counters of one model (created at zero). */
  counters(model: string): UploadCounters {
    let c = this.#counters.get(model);
    if (!c) {
      c = { queued: 0, skipped: 0, refused: 0 };
      this.#counters.set(model, c);
    }
    return c;
  }
}
