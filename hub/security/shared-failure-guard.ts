import type { RateBucketRef, RateBucketStore } from '../store/rate-bucket-types.js';
import type { Admission, AuthFailureLimits, FailureGuard } from './failure-guard.js';
import { FairQueue } from './fair-queue.js';

const OVERALL = '*';

/**
 * {@link AuthFailureGuard}'s budget of failed authentications, kept in the hub store
 * (`rate_buckets`) instead of this process's memory: every replica charges the same buckets,
 * so an address guessing secrets gets `failureBurst` failures in a row from the whole fleet of
 * replicas (not that many per replica), and a restart does not refill them. The decisions are
 * the same: a source with a clean record is checked without charge and without writing
 * anything (one read of two rows, beside the scrypt the check costs), charged when it fails;
 * once it has failed, each check is charged up front in one transaction and refunded on
 * success. The turn-taking of the checks themselves stays per process.
 */
export class SharedAuthFailureGuard implements FailureGuard {
  readonly #store: RateBucketStore;
  readonly #source: Omit<RateBucketRef, 'key'>;
  readonly #overall: RateBucketRef;
  readonly #now: () => number;
  // As many secret checks at once as libuv runs scrypts at once (its default thread pool).
  readonly #checks = new FairQueue(4);

  /** `scope` names the budget in the store (e.g. `http.auth`): one per kind of credential. */
  constructor(
    store: RateBucketStore,
    scope: string,
    limits: AuthFailureLimits,
    now: () => number = Date.now,
  ) {
    this.#store = store;
    this.#source = { scope: `${scope}.source`, ratePerS: limits.failuresPerS, burst: limits.failureBurst };
    this.#overall = {
      scope: `${scope}.overall`,
      key: OVERALL,
      ratePerS: limits.overallFailuresPerS,
      burst: limits.overallFailureBurst,
    };
    this.#now = now;
  }

  #buckets(source: string): RateBucketRef[] {
    return [{ ...this.#source, key: source }, this.#overall];
  }

  async admit(source: string): Promise<Admission | string> {
    const buckets = this.#buckets(source);
    const [mine] = await this.#store.readRateBuckets(buckets, this.#now());
    if ((mine as number) < 1) return `too many failed authentications from ${source}`;
    // A clean record (a full bucket): checked without charge, nothing written.
    if ((mine as number) >= this.#source.burst) return { source, charged: false };
    return this.#store.changeRateBuckets<Admission | string>(buckets, this.#now(), ([own, all]) => {
      if ((own as number) < 1)
        return { deltas: [0, 0], result: `too many failed authentications from ${source}` };
      if ((own as number) < this.#source.burst && (all as number) < 1)
        return { deltas: [0, 0], result: 'too many failed authentications overall' };
      const charged = (own as number) < this.#source.burst;
      return { deltas: charged ? [-1, -1] : [0, 0], result: { source, charged } };
    });
  }

  check<T>(admission: Admission, task: () => Promise<T>): Promise<T> {
    return this.#checks.run(admission.source, task);
  }

  async succeeded(admission: Admission): Promise<void> {
    if (!admission.charged) return;
    await this.#store.changeRateBuckets(this.#buckets(admission.source), this.#now(), () => ({
      deltas: [1, 1],
      result: undefined,
    }));
  }

  async failed(admission: Admission): Promise<void> {
    if (admission.charged) return;
    // Taken where a token is left (a bucket never goes below empty), as TokenBuckets.take.
    await this.#store.changeRateBuckets(this.#buckets(admission.source), this.#now(), (tokens) => ({
      deltas: tokens.map((t) => (t >= 1 ? -1 : 0)),
      result: undefined,
    }));
  }
}
