import type Database from 'better-sqlite3';
import {
  type DropAnswer,
  LANES,
  type Lane,
  type LaneLedger,
  type LedgerReport,
  type LossReason,
} from '../../shared/index.js';

/** One dropped outbox row: its seq and envelope size. */
export interface DroppedRow {
  seq: number;
  bytes: number;
}

/** A range of consecutive seqs of one lane lost for one reason (a row of the ledger). */
export interface LossRange {
  lane: Lane;
  reason: LossReason;
  /** First and last seq, inclusive. */
  from: number;
  to: number;
  /** Sum of the envelope sizes, bytes. */
  bytes: number;
  /** Device wall clock of the first and the latest drop merged into this range, ms. */
  firstAt: number;
  lastAt: number;
}

/** What a drop did to the ledger. */
export interface DropOutcome {
  /** Never published, hence certainly lost: counted in the ledger now. */
  lost: number;
  lostBytes: number;
  /** Published before (an ack may be on its way): left for the hub's answer. */
  unconfirmed: number;
}

/** What a hub answer resolved. */
export interface ResolveOutcome {
  /** Unconfirmed drops the hub never stored: now counted in the ledger. */
  lost: number;
  /** Unconfirmed drops the hub had stored after all: not losses. */
  delivered: number;
  /** Ledger seqs of the range recorded before the answer (drops that were never published). */
  certainInRange: number;
  /** Seqs the hub says it skipped in the range. */
  skippedByHub: number;
}

interface LastRow {
  id: number;
  reason: string;
  to_seq: number;
}

/**
 * The loss ledger: every event ever dropped, as ranges per lane and reason with
 * their bytes — and, apart from it, the dropped events whose fate only the hub knows (they
 * had been published; the hub may have stored them before the drop, their ack unseen).
 * Those wait in `loss_unconfirmed`, one row each (at most what was in flight), until the
 * hub's answer moves them into the ledger or forgets them. Methods are synchronous and run
 * inside the caller's transaction; the lane counters are the caller's.
 */
export class LossLedger {
  readonly #last: Database.Statement<[Lane], LastRow>;
  readonly #extend: Database.Statement<[number, number, number, number, string, number]>;
  readonly #insert: Database.Statement<[Lane, string, number, number, number, number, number]>;
  readonly #addUnconfirmed: Database.Statement<[Lane, number, string, number, number]>;
  readonly #unconfirmedIn: Database.Statement<
    [Lane, number, number],
    { seq: number; reason: string; bytes: number; at: number }
  >;
  readonly #forgetUnconfirmed: Database.Statement<[Lane, number, number]>;
  readonly #overlap: Database.Statement<[number, number, Lane, number, number], { n: number | null }>;
  readonly #totals: Database.Statement<[], { lane: string; reason: string; n: number; bytes: number }>;
  readonly #unconfirmedTotals: Database.Statement<[], { lane: string; n: number }>;
  readonly #ranges: Database.Statement<[], Record<string, number | string>>;

  constructor(db: Database.Database) {
    this.#last = db.prepare(
      'SELECT id, reason, to_seq FROM loss_ledger WHERE lane = ? ORDER BY id DESC LIMIT 1',
    );
    this.#extend = db.prepare(
      `UPDATE loss_ledger SET to_seq = ?, bytes = bytes + ?, last_at = ?
       WHERE id = ? AND reason = ? AND to_seq = ?`,
    );
    this.#insert = db.prepare(
      `INSERT INTO loss_ledger (lane, reason, from_seq, to_seq, bytes, first_at, last_at)
       VALUES (?, ?, ?, ?, ?, ?, ?)`,
    );
    this.#addUnconfirmed = db.prepare(
      'INSERT INTO loss_unconfirmed (lane, seq, reason, bytes, at) VALUES (?, ?, ?, ?, ?)',
    );
    this.#unconfirmedIn = db.prepare(
      'SELECT seq, reason, bytes, at FROM loss_unconfirmed WHERE lane = ? AND seq BETWEEN ? AND ? ORDER BY seq',
    );
    this.#forgetUnconfirmed = db.prepare(
      'DELETE FROM loss_unconfirmed WHERE lane = ? AND seq BETWEEN ? AND ?',
    );
    this.#overlap = db.prepare(
      `SELECT SUM(MIN(to_seq, ?) - MAX(from_seq, ?) + 1) AS n FROM loss_ledger
       WHERE lane = ? AND to_seq >= ? AND from_seq <= ?`,
    );
    this.#totals = db.prepare(
      `SELECT lane, reason, SUM(to_seq - from_seq + 1) AS n, SUM(bytes) AS bytes
       FROM loss_ledger GROUP BY lane, reason`,
    );
    this.#unconfirmedTotals = db.prepare('SELECT lane, COUNT(*) AS n FROM loss_unconfirmed GROUP BY lane');
    this.#ranges = db.prepare(
      'SELECT lane, reason, from_seq, to_seq, bytes, first_at, last_at FROM loss_ledger ORDER BY lane, from_seq',
    );
  }

  /**
   * Records a drop of `rows` (the lane's oldest pending events, ascending and consecutive).
   * Rows above `sentThrough` were never published: lost for certain, into the ledger.
   * Rows at or below it wait for the hub's answer.
   */
  recordDrop(
    lane: Lane,
    reason: LossReason,
    rows: readonly DroppedRow[],
    sentThrough: number,
    at: number,
  ): DropOutcome {
    let lost = 0;
    let lostBytes = 0;
    let firstLost = 0;
    let unconfirmed = 0;
    for (const row of rows) {
      if (row.seq <= sentThrough) {
        this.#addUnconfirmed.run(lane, row.seq, reason, row.bytes, at);
        unconfirmed += 1;
        continue;
      }
      if (lost === 0) firstLost = row.seq;
      lost += 1;
      lostBytes += row.bytes;
    }
    if (lost > 0) this.#addRange(lane, reason, firstLost, firstLost + lost - 1, lostBytes, at);
    return { lost, lostBytes, unconfirmed };
  }

  /**
   * Applies the hub's answer about `[answer.from, answer.through]`: unconfirmed drops in a
   * skipped range are lost (into the ledger, in runs of one reason), the others had reached
   * the hub and are forgotten.
   */
  resolve(lane: Lane, answer: DropAnswer): ResolveOutcome {
    const { from, through, skipped } = answer;
    const skippedByHub = skipped.reduce((sum, [first, last]) => sum + last - first + 1, 0);
    const certainInRange = this.#overlap.get(through, from, lane, from, through)?.n ?? 0;
    if (through < from) return { lost: 0, delivered: 0, certainInRange, skippedByHub };
    let lost = 0;
    let delivered = 0;
    let run: { reason: string; from: number; to: number; bytes: number; at: number } | undefined;
    const flush = () => {
      if (run) this.#addRange(lane, run.reason as LossReason, run.from, run.to, run.bytes, run.at);
      run = undefined;
    };
    let r = 0;
    for (const row of this.#unconfirmedIn.all(lane, from, through)) {
      while (r < skipped.length && (skipped[r]?.[1] ?? 0) < row.seq) r += 1;
      const range = skipped[r];
      if (!range || row.seq < range[0]) {
        delivered += 1;
        flush();
        continue;
      }
      lost += 1;
      if (run && run.reason === row.reason && run.to + 1 === row.seq) {
        run.to = row.seq;
        run.bytes += row.bytes;
        run.at = row.at;
      } else {
        flush();
        run = { reason: row.reason, from: row.seq, to: row.seq, bytes: row.bytes, at: row.at };
      }
    }
    flush();
    this.#forgetUnconfirmed.run(lane, from, through);
    return { lost, delivered, certainInRange, skippedByHub };
  }

  /** Cumulative totals per lane (every lane present). */
  totals(): Record<Lane, LaneLedger> {
    const out = Object.fromEntries(
      LANES.map((lane) => [
        lane,
        { quota: { count: 0, bytes: 0 }, ttl: { count: 0, bytes: 0 }, unconfirmed: 0 },
      ]),
    ) as Record<Lane, LaneLedger>;
    for (const row of this.#totals.all()) {
      const lane = out[row.lane as Lane];
      if (lane && (row.reason === 'quota' || row.reason === 'ttl'))
        lane[row.reason] = { count: row.n, bytes: row.bytes };
    }
    for (const row of this.#unconfirmedTotals.all()) {
      const lane = out[row.lane as Lane];
      if (lane) lane.unconfirmed = row.n;
    }
    return out;
  }

  /** The same totals in their wire form. */
  report(): LedgerReport {
    return this.totals();
  }

  /** Every range of the ledger, by lane then seq (for audits and the fault suite's checker). */
  ranges(): LossRange[] {
    return this.#ranges.all().map((row) => ({
      lane: row.lane as Lane,
      reason: row.reason as LossReason,
      from: Number(row.from_seq),
      to: Number(row.to_seq),
      bytes: Number(row.bytes),
      firstAt: Number(row.first_at),
      lastAt: Number(row.last_at),
    }));
  }

  /** Appends `[from, to]`, merged into the lane's latest range when it continues it. */
  #addRange(lane: Lane, reason: LossReason, from: number, to: number, bytes: number, at: number): void {
    const last = this.#last.get(lane);
    if (last && last.reason === reason && last.to_seq === from - 1) {
      if (this.#extend.run(to, bytes, at, last.id, reason, from - 1).changes > 0) return;
    }
    this.#insert.run(lane, reason, from, to, bytes, at, at);
  }
}
