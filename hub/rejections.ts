import type { Logger } from 'pino';
import type { HubCounters } from './stats.js';

/** Distinct (source, reason) pairs remembered for log-once; beyond it the memory restarts. */
const MAX_REMEMBERED = 10_000;

/**
 * Counts every rejected or dropped inbound thing and logs it at `warn` once per
 * (source, reason), docs/architecture.md "Wire protocol": counted, logged once with its reason, dropped.
 * Memory is bounded: after {@link MAX_REMEMBERED} distinct pairs it forgets and may log a
 * pair again.
 */
export class Rejections {
  private readonly logged = new Set<string>();
  /** Per source: count and last time of each reason (bounded like `logged`). */
  private readonly bySource = new Map<string, Map<string, { count: number; lastAt: number }>>();

  constructor(
    private readonly counters: HubCounters,
    private readonly logger: Logger,
  ) {}

  /**
   * Records one rejection. `source` is who caused it (a device or client id), `reason` the
   * stats key (`up.invalid`, `acl.publish`, ...), `detail` a human-readable explanation.
   */
  reject(source: string, reason: string, detail: string, context: Record<string, unknown> = {}): void {
    this.counters.reject(reason);
    if (!this.bySource.has(source) && this.bySource.size >= MAX_REMEMBERED) this.bySource.clear();
    const reasons = this.bySource.get(source) ?? new Map<string, { count: number; lastAt: number }>();
    this.bySource.set(source, reasons);
    reasons.set(reason, { count: (reasons.get(reason)?.count ?? 0) + 1, lastAt: Date.now() });
    const key = `${source}\u0000${reason}`;
    if (this.logged.has(key)) return;
    if (this.logged.size >= MAX_REMEMBERED) this.logged.clear();
    this.logged.add(key);
    this.logger.warn(
      { source, reason, detail, ...context },
      `rejected (${reason}) from ${source}: ${detail} (logged once per source and reason)`,
    );
  }

  /** The rejections of one source (a device or client id) since this hub started, by reason. */
  of(source: string): Record<string, { count: number; lastAt: number }> {
    return Object.fromEntries(this.bySource.get(source) ?? []);
  }
}
