/** Counters the hub keeps in memory since it started (reset by a restart). */
export interface HubStats {
  /** Inbound things refused or dropped, by reason (`up.invalid`, `acl.publish`, ...). */
  rejected: { total: number; byReason: Record<string, number> };
  /**
   * Uplink batches processed, events newly stored, duplicates ignored, and seqs skipped
   * because the agent dropped them.
   */
  ingest: { batches: number; stored: number; duplicates: number; skipped: number };
  /** Application-level pings answered (dead links). */
  pings: number;
  /**
   * What device messages carried that this hub keeps without understanding, by item
   * (`field <path>`, `lane <name>`, `engine <name>`): a newer agent's additions.
   */
  tolerated: { total: number; byItem: Record<string, number> };
  /** What event retention deleted (hub/events/retention.ts): events, passes run. */
  retention: { events: number; passes: number };
}

/** Distinct tolerated items counted; beyond it they are counted under `(other)`. */
const MAX_TOLERATED_ITEMS = 1000;

/** Mutable counters behind {@link HubStats}; one instance per hub, shared by its components. */
export class HubCounters {
  private rejectedTotal = 0;
  private readonly byReason = new Map<string, number>();
  private batches = 0;
  private stored = 0;
  private duplicates = 0;
  private skipped = 0;
  private pings = 0;
  private retainedDeleted = 0;
  private retentionPasses = 0;
  private toleratedTotal = 0;
  private readonly toleratedByItem = new Map<string, number>();

  /** Counts one item a device message carried that this hub does not understand. */
  tolerate(item: string): void {
    this.toleratedTotal++;
    const key =
      this.toleratedByItem.has(item) || this.toleratedByItem.size < MAX_TOLERATED_ITEMS ? item : '(other)';
    this.toleratedByItem.set(key, (this.toleratedByItem.get(key) ?? 0) + 1);
  }

  /** Counts one rejection under `reason`. */
  reject(reason: string): void {
    this.rejectedTotal++;
    this.byReason.set(reason, (this.byReason.get(reason) ?? 0) + 1);
  }

  /** Counts one ingested batch. */
  ingest(stored: number, duplicates: number, skipped = 0): void {
    this.batches++;
    this.stored += stored;
    this.duplicates += duplicates;
    this.skipped += skipped;
  }

  /** Counts one event-retention pass and the events it deleted. */
  retentionPass(deleted: number): void {
    this.retentionPasses++;
    this.retainedDeleted += deleted;
  }

  /** Counts one answered ping. */
  ping(): void {
    this.pings++;
  }

  /** A copy of the counters, safe to serialise. */
  snapshot(): HubStats {
    return {
      rejected: { total: this.rejectedTotal, byReason: Object.fromEntries(this.byReason) },
      ingest: {
        batches: this.batches,
        stored: this.stored,
        duplicates: this.duplicates,
        skipped: this.skipped,
      },
      pings: this.pings,
      tolerated: { total: this.toleratedTotal, byItem: Object.fromEntries(this.toleratedByItem) },
      retention: { events: this.retainedDeleted, passes: this.retentionPasses },
    };
  }
}
