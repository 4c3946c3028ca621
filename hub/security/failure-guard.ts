import { TokenBuckets } from './token-bucket.js';

const OVERALL = '*';

/** The bounds of an {@link AuthFailureGuard}. */
export interface AuthFailureLimits {
  failuresPerS: number;
  failureBurst: number;
  overallFailuresPerS: number;
  overallFailureBurst: number;
  maxConcurrentVerifications: number;
}

/**
 * Bounds what failed authentications (MQTT CONNECTs, HTTP Basic credentials) cost, before any
 * secret is hashed:
 * - per source address: `failureBurst` failures, then `failuresPerS`; past it, CONNECTs from
 *   that address are refused without hashing (other addresses are not affected);
 * - overall: `overallFailureBurst` failures, then `overallFailuresPerS`; past it, every
 *   address that failed recently is refused without hashing, while addresses with a clean
 *   record are still verified;
 * - at most `maxConcurrentVerifications` password checks at once (each is one scrypt).
 * Nothing here is keyed by the claimed device id, so an outsider who knows a device id cannot
 * lock that device out.
 */
export class AuthFailureGuard {
  private readonly perSource: TokenBuckets;
  private readonly overall: TokenBuckets;
  private verifying = 0;

  constructor(
    private readonly limits: AuthFailureLimits,
    now: () => number = Date.now,
  ) {
    this.perSource = new TokenBuckets(limits.failuresPerS, limits.failureBurst, now);
    this.overall = new TokenBuckets(limits.overallFailuresPerS, limits.overallFailureBurst, now);
  }

  /** Undefined when `source` may have its password checked now (call `release` after), else why not. */
  admit(source: string): string | undefined {
    if (this.perSource.available(source) < 1) return `too many failed authentications from ${source}`;
    if (this.overall.available(OVERALL) < 1 && this.perSource.hasSpent(source)) {
      return 'too many failed authentications overall';
    }
    if (this.verifying >= this.limits.maxConcurrentVerifications)
      return 'too many secrets being verified at once';
    this.verifying += 1;
    return undefined;
  }

  /** A password check admitted by `admit` ended. */
  release(): void {
    this.verifying = Math.max(0, this.verifying - 1);
  }

  /** `source` failed to authenticate. */
  failed(source: string): void {
    this.perSource.take(source);
    this.overall.take(OVERALL);
  }
}
