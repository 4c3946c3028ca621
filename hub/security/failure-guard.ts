import { FairQueue } from './fair-queue.js';
import { TokenBuckets } from './token-bucket.js';

const OVERALL = '*';

/** The bounds of an {@link AuthFailureGuard}. */
export interface AuthFailureLimits {
  failuresPerS: number;
  failureBurst: number;
  overallFailuresPerS: number;
  overallFailureBurst: number;
}

/** A check let through by {@link AuthFailureGuard.admit}; hand it back with the outcome. */
export interface Admission {
  readonly source: string;
  /** Charged up front (the source failed recently): refunded on success. */
  readonly charged: boolean;
}

/**
 * What a secret check asks of a failure budget: {@link AuthFailureGuard} (in this process) or
 * `SharedAuthFailureGuard` (in the store, for every replica); the same decisions either way.
 */
export interface FailureGuard {
  /** An admission when `source` may have a secret checked now, else why not (a string). */
  admit(source: string): Admission | string | Promise<Admission | string>;
  /** Runs the secret check of an admitted attempt, taking turns between source addresses. */
  check<T>(admission: Admission, task: () => Promise<T>): Promise<T>;
  /** The admitted check succeeded: an up-front charge is refunded. */
  succeeded(admission: Admission): void | Promise<void>;
  /** The admitted check failed: charged now unless it was up front. */
  failed(admission: Admission): void | Promise<void>;
}

/**
 * Bounds what failed authentications (MQTT CONNECTs, HTTP Basic credentials) cost, before any
 * secret is hashed:
 * - per source address: `failureBurst` failures, then `failuresPerS`; past it, attempts from
 *   that address are refused without hashing (other addresses are not affected);
 * - overall: `overallFailureBurst` failures, then `overallFailuresPerS`; past it, every
 *   address that failed recently is refused without hashing, while addresses with a clean
 *   record are still checked.
 * A source with a clean record is checked without charge (a connect storm of many devices
 * behind one address is not throttled) and charged when a check fails; once it has failed,
 * each check is charged up front and refunded on success, so attempts in flight at once
 * cannot overrun its budget. Nothing here is keyed by the claimed device id, so an outsider
 * who knows a device id cannot lock that device out. The checks themselves take turns between
 * addresses (see `check`).
 */
export class AuthFailureGuard implements FailureGuard {
  private readonly perSource: TokenBuckets;
  private readonly overall: TokenBuckets;
  // As many secret checks at once as libuv runs scrypts at once (its default thread pool).
  private readonly checks = new FairQueue(4);

  constructor(limits: AuthFailureLimits, now: () => number = Date.now) {
    this.perSource = new TokenBuckets(limits.failuresPerS, limits.failureBurst, now);
    this.overall = new TokenBuckets(limits.overallFailuresPerS, limits.overallFailureBurst, now);
  }

  /** An admission when `source` may have a secret checked now, else why not (a string). */
  admit(source: string): Admission | string {
    if (this.perSource.available(source) < 1) return `too many failed authentications from ${source}`;
    const spent = this.perSource.hasSpent(source);
    if (spent && this.overall.available(OVERALL) < 1) return 'too many failed authentications overall';
    if (spent) {
      this.perSource.take(source);
      this.overall.take(OVERALL);
    }
    return { source, charged: spent };
  }

  /**
   * Runs the secret check of an admitted attempt, taking turns between source addresses, so
   * one address's queued checks do not delay another's.
   */
  check<T>(admission: Admission, task: () => Promise<T>): Promise<T> {
    return this.checks.run(admission.source, task);
  }

  /** The admitted check succeeded: an up-front charge is refunded. */
  succeeded(admission: Admission): void {
    if (!admission.charged) return;
    this.perSource.refund(admission.source);
    this.overall.refund(OVERALL);
  }

  /** The admitted check failed: charged now unless it was up front. */
  failed(admission: Admission): void {
    if (admission.charged) return;
    this.perSource.take(admission.source);
    this.overall.take(OVERALL);
  }
}
