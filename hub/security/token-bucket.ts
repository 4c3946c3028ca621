/**
 * Token buckets per key: each key holds up to `burst` tokens, refilled at
 * `ratePerS`; a request takes one. Memory is bounded: idle full buckets are forgotten, and
 * past `maxKeys` the oldest keys go first.
 */
export class TokenBuckets {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    private readonly ratePerS: number,
    private readonly burst: number,
    private readonly now: () => number = Date.now,
    private readonly maxKeys = 100_000,
  ) {}

  /** 0 when `key` may go now (a token is taken), else the seconds until a token is back (≥ 1). */
  take(key: string): number {
    const now = this.now();
    const bucket = this.buckets.get(key) ?? { tokens: this.burst, at: now };
    bucket.tokens = Math.min(this.burst, bucket.tokens + ((now - bucket.at) / 1000) * this.ratePerS);
    bucket.at = now;
    this.buckets.delete(key);
    this.buckets.set(key, bucket);
    if (this.buckets.size > this.maxKeys) this.evict(now);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil((1 - bucket.tokens) / this.ratePerS));
  }

  /** The tokens `key` holds now (the burst for an unknown key), without taking one. */
  available(key: string): number {
    const bucket = this.buckets.get(key);
    if (bucket === undefined) return this.burst;
    return Math.min(this.burst, bucket.tokens + ((this.now() - bucket.at) / 1000) * this.ratePerS);
  }

  /** Gives back one token `key` took (never above the burst). */
  refund(key: string): void {
    const bucket = this.buckets.get(key);
    if (bucket !== undefined) bucket.tokens = Math.min(this.burst, bucket.tokens + 1);
  }

  /** Whether `key` has taken a token that is not back yet. */
  hasSpent(key: string): boolean {
    return this.available(key) < this.burst;
  }

  private evict(now: number): void {
    for (const [key, b] of this.buckets) {
      if (this.buckets.size <= this.maxKeys * 0.9) break;
      // Oldest first (Map order is last use); a full idle bucket loses nothing by going.
      if (
        b.tokens + ((now - b.at) / 1000) * this.ratePerS >= this.burst ||
        this.buckets.size > this.maxKeys
      ) {
        this.buckets.delete(key);
      }
    }
  }
}
