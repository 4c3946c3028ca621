import Database from 'better-sqlite3';

/**
 * What a restore carried from the migrated store into the backup copy, and what it could not.
 * `notCarried` is empty when everything that must stay consistent with the outbox was carried.
 */
export interface SalvageReport {
  /** Outbox rows queued by the reverted release (not in the backup), now in the restored store. */
  carried: number;
  /** Backup rows the reverted release had removed (acked by the hub, or dropped and booked). */
  removed: number;
  /** In words, each thing that could not be carried. */
  notCarried: string[];
}

type Row = Record<string, unknown>;
interface Column {
  name: string;
  notnull: number;
  dflt_value: unknown;
}

/** Sequence marks of `lane_counters`: only ever grow, so the larger of both stores wins. */
const MARKS = new Set(['next_seq', 'sent_through', 'dropped_through', 'drop_confirmed_through']);

/** Tables whose rows must agree with the outbox and its counters; carried whole, or not at all. */
const LEDGER_TABLES = ['loss_ledger', 'loss_unconfirmed'] as const;

const q = (name: string) => `"${name.replaceAll('"', '""')}"`;

function columns(db: Database.Database, table: string): Column[] {
  return db.prepare(`PRAGMA table_info(${q(table)})`).all() as Column[];
}

/**
 * The columns to copy from `from` into `to` for `table`: those both have. Throws, saying why,
 * when the table is missing on either side or `to` requires a column `from` lacks.
 */
function sharedColumns(to: Database.Database, from: Database.Database, table: string): string[] {
  const target = columns(to, table);
  const source = new Set(columns(from, table).map((c) => c.name));
  if (target.length === 0) throw new Error(`the restored store has no table ${table}`);
  if (source.size === 0) throw new Error(`the migrated store has no table ${table}`);
  const missing = target.filter((c) => !source.has(c.name) && c.notnull && c.dflt_value === null);
  if (missing.length > 0) {
    throw new Error(`${table}: the migrated store lacks ${missing.map((c) => c.name).join(', ')}`);
  }
  return target.map((c) => c.name).filter((n) => source.has(n));
}

function meta(db: Database.Database, key: string): string | undefined {
  const row = db.prepare('SELECT value FROM meta WHERE key = ?').get(key) as { value: string } | undefined;
  return row?.value;
}

/**
 * Carries into `copyFile` (the backup about to replace the live store, writable) what the
 * reverted release changed in `migratedFile` (its store, opened read-only, WAL included):
 * the outbox as it left it (rows it queued added, rows it acked or dropped removed), the loss
 * ledger, the lane counters (sequence marks: the larger of both, so no seq is ever reused)
 * and the agent clock. One transaction: all of it or, failing that, only the sequence marks.
 * Never throws: what could not be carried is in the report.
 */
export function salvageInto(copyFile: string, migratedFile: string): SalvageReport {
  const report: SalvageReport = { carried: 0, removed: 0, notCarried: [] };
  let from: Database.Database | undefined;
  let to: Database.Database | undefined;
  try {
    from = new Database(migratedFile, { readonly: true, fileMustExist: true });
    to = new Database(copyFile, { fileMustExist: true });
    const epoch = meta(to, 'epoch');
    if (epoch === undefined || meta(from, 'epoch') !== epoch) {
      report.notCarried.push('the migrated store has another epoch: nothing carried');
      return report;
    }
  } catch (err) {
    report.notCarried.push(`the migrated store could not be read: ${(err as Error).message}`);
    from?.close();
    to?.close();
    return report;
  }
  try {
    const src = from;
    const dst = to;
    try {
      dst.transaction(() => carryAll(dst, src, report))();
    } catch (err) {
      report.carried = 0;
      report.removed = 0;
      report.notCarried.length = 0; // what the rolled-back attempt noted no longer holds
      report.notCarried.push(`the outbox was not carried: ${(err as Error).message}`);
      try {
        dst.transaction(() => carryMarks(dst, src, report))();
      } catch (err2) {
        report.notCarried.push(`the sequence counters were not carried: ${(err2 as Error).message}`);
      }
    }
  } finally {
    from.close();
    to.close();
  }
  return report;
}

function carryAll(to: Database.Database, from: Database.Database, report: SalvageReport): void {
  const lanes = new Set(
    (to.prepare('SELECT lane FROM lane_counters').all() as Array<{ lane: string }>).map((r) => r.lane),
  );
  carryOutbox(to, from, lanes, report);
  for (const table of LEDGER_TABLES) replaceTable(to, from, table);
  carryCounters(to, from, lanes, report, false);
  const clock = Math.max(Number(meta(to, 'clock_ms') ?? 0), Number(meta(from, 'clock_ms') ?? 0));
  to.prepare("UPDATE meta SET value = ? WHERE key = 'clock_ms'").run(String(clock));
}

/** The outbox as the migrated store has it: its rows added, the rows it no longer has removed. */
function carryOutbox(
  to: Database.Database,
  from: Database.Database,
  lanes: Set<string>,
  report: SalvageReport,
): void {
  const cols = sharedColumns(to, from, 'outbox');
  if (!cols.includes('lane') || !cols.includes('seq')) throw new Error('outbox: no (lane, seq) key');
  const inMigrated = from.prepare('SELECT 1 FROM outbox WHERE lane = ? AND seq = ?').pluck();
  const gone: Array<[string, number]> = [];
  for (const r of to.prepare('SELECT lane, seq FROM outbox').iterate() as Iterable<Row>) {
    if (inMigrated.get(r.lane, r.seq) === undefined) gone.push([r.lane as string, r.seq as number]);
  }
  const del = to.prepare('DELETE FROM outbox WHERE lane = ? AND seq = ?');
  for (const [lane, seq] of gone) report.removed += del.run(lane, seq).changes;
  const list = cols.map(q).join(', ');
  const insert = to.prepare(
    `INSERT OR IGNORE INTO outbox (${list}) VALUES (${cols.map((c) => `@${c}`).join(', ')})`,
  );
  const skipped = new Map<string, number>();
  for (const r of from.prepare(`SELECT ${list} FROM outbox`).iterate() as Iterable<Row>) {
    const lane = String(r.lane);
    if (!lanes.has(lane)) skipped.set(lane, (skipped.get(lane) ?? 0) + 1);
    else report.carried += insert.run(r).changes;
  }
  for (const [lane, n] of skipped) {
    report.notCarried.push(`${n} event(s) of lane ${lane}, unknown to the restored schema`);
  }
}

/** Replaces `table` of `to` with the migrated store's rows (the shared columns). */
function replaceTable(to: Database.Database, from: Database.Database, table: string): void {
  const cols = sharedColumns(to, from, table);
  const list = cols.map(q).join(', ');
  to.prepare(`DELETE FROM ${q(table)}`).run();
  const insert = to.prepare(
    `INSERT INTO ${q(table)} (${list}) VALUES (${cols.map((c) => `@${c}`).join(', ')})`,
  );
  for (const r of from.prepare(`SELECT ${list} FROM ${q(table)}`).iterate() as Iterable<Row>) insert.run(r);
}

/**
 * Lane counters: sequence marks the larger of both stores, counts the migrated store's (it
 * continued from the backup); then `pending_bytes` and `acked` agree with the rows left, so
 * `next_seq − 1 − acked − dropped − unconfirmed` is the count of events still queued. With
 * `marksOnly` (the outbox was not carried) only the marks move, and the seqs the reverted
 * release used are reported as not carried.
 */
function carryCounters(
  to: Database.Database,
  from: Database.Database,
  lanes: Set<string>,
  report: SalvageReport,
  marksOnly: boolean,
): void {
  const cols = sharedColumns(to, from, 'lane_counters').filter((c) => c !== 'lane');
  if (!cols.includes('next_seq')) throw new Error('lane_counters: no next_seq');
  const has = new Set(cols);
  const mine = to.prepare(`SELECT ${cols.map(q).join(', ')} FROM lane_counters WHERE lane = ?`);
  const theirs = from.prepare(`SELECT ${cols.map(q).join(', ')} FROM lane_counters WHERE lane = ?`);
  const stats = to.prepare('SELECT COUNT(*) AS n, COALESCE(SUM(bytes), 0) AS b FROM outbox WHERE lane = ?');
  const save = to.prepare(
    `UPDATE lane_counters SET ${cols.map((c) => `${q(c)} = @${c}`).join(', ')} WHERE lane = @lane`,
  );
  for (const lane of lanes) {
    const a = mine.get(lane) as Row | undefined;
    const b = theirs.get(lane) as Row | undefined;
    if (a === undefined || b === undefined) continue;
    const row: Row = { ...a, lane };
    for (const c of cols) {
      if (MARKS.has(c)) row[c] = Math.max(Number(a[c]), Number(b[c]));
      else if (!marksOnly) row[c] = b[c];
    }
    const mineNext = Number(a.next_seq);
    const next = Number(row.next_seq);
    if (marksOnly && next > mineNext) {
      report.notCarried.push(`lane ${lane}: seqs ${mineNext}..${next - 1} queued by the reverted release`);
    }
    if (has.has('acked')) {
      const s = stats.get(lane) as { n: number; b: number };
      const counted = ['dropped', 'unconfirmed'].reduce(
        (sum, c) => sum + (has.has(c) ? Number(row[c]) : 0),
        0,
      );
      row.acked = Math.max(0, next - 1 - counted - s.n);
      if (has.has('pending_bytes')) row.pending_bytes = s.b;
    }
    save.run(row);
  }
}

/** Fallback when the outbox cannot be carried: no seq the reverted release used is reused. */
function carryMarks(to: Database.Database, from: Database.Database, report: SalvageReport): void {
  const lanes = new Set(
    (to.prepare('SELECT lane FROM lane_counters').all() as Array<{ lane: string }>).map((r) => r.lane),
  );
  carryCounters(to, from, lanes, report, true);
}
