import { TokenBuckets } from './token-bucket.js';

const OVERALL = '*';

/** The bounds of an {@link AuthFailureGuard}. */
export interface AuthFailureLimits {
  failuresPerS: number;
  failureBurst: number;
  overallFailuresPerS: number;
  overallFailureBurst: number;
}

/**
 * Bounds what failed authentications (MQTT CONNECTs, HTTP Basic credentials) cost, before any
 * secret is hashed. Every check is charged up front, as if it would fail, and refunded when it
 * succeeds, so a burst of attempts in flight at once cannot overrun the budget:
 * - per source address: `failureBurst` failures, then `failuresPerS`; past it, attempts from
 *   that address are refused without hashing (other addresses are not affected);
 * - overall: `overallFailureBurst` failures, then `overallFailuresPerS`; past it, every
 *   address that failed recently is refused without hashing, while addresses with a clean
 *   record are still checked.
 * Nothing here is keyed by the claimed device id, so an outsider who knows a device id cannot
 * lock that device out.
 */
export class AuthFailureGuard {
  private readonly perSource: TokenBuckets;
  private readonly overall: TokenBuckets;

  constructor(limits: AuthFailureLimits, now: () => number = Date.now) {
    this.perSource = new TokenBuckets(limits.failuresPerS, limits.failureBurst, now);
    this.overall = new TokenBuckets(limits.overallFailuresPerS, limits.overallFailureBurst, now);
  }

  /**
   * Undefined when `source` may have a secret checked now (charged; call `succeeded` to refund
   * it), else why not.
   */
  admit(source: string): string | undefined {
    if (this.perSource.available(source) < 1) return `too many failed authentications from ${source}`;
    if (this.overall.available(OVERALL) < 1 && this.perSource.hasSpent(source)) {
      return 'too many failed authentications overall';
    }
    this.perSource.take(source);
    this.overall.take(OVERALL);
    return undefined;
  }

  /** The check admitted for `source` succeeded: its charge is refunded. */
  succeeded(source: string): void {
    this.perSource.refund(source);
    this.overall.refund(OVERALL);
  }
}
