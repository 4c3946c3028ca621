import { join } from 'node:path';
import Database from 'better-sqlite3';
import { AGENT_DB_FILE } from '../../../agent/index.js';
import { LANES, type Lane } from '../../../shared/index.js';

/** One range of the agent's loss ledger: seqs `from..to` of a lane lost for `reason`. */
export interface LedgerRange {
  reason: string;
  from: number;
  to: number;
  bytes: number;
}

/** One lane of an agent store, as its SQLite file says. */
export interface LaneSnapshot {
  /** Seqs ever assigned: `lane_counters.next_seq − 1` (the events durably stored, ever). */
  assigned: number;
  /** `lane_counters.acked`. */
  acked: number;
  /** `lane_counters.dropped`: what the ledger counts as lost. */
  dropped: number;
  /** `lane_counters.unconfirmed`: dropped, fate not yet answered by the hub. */
  unconfirmed: number;
  /**
   * The dropped boundary: `dropped_through`, the highest seq ever dropped, and
   * `drop_confirmed_through`, the highest the hub answered about.
   */
  droppedThrough: number;
  dropConfirmedThrough: number;
  /** Rows still in the outbox. */
  pendingRows: number;
  /** Rows of `loss_unconfirmed`. */
  unconfirmedRows: number;
  /** Seqs of the outbox rows and of the unconfirmed drops (both empty once drained). */
  pendingSeqs: number[];
  unconfirmedSeqs: number[];
  /** The lane's ledger ranges, by seq. */
  ledger: LedgerRange[];
}

/** What an agent store holds, read from its file without the agent's code. */
export interface AgentSnapshot {
  epoch: string;
  lanes: Record<Lane, LaneSnapshot>;
}

interface CounterRow {
  lane: Lane;
  next_seq: number;
  acked: number;
  dropped: number;
  unconfirmed: number;
  dropped_through: number;
  drop_confirmed_through: number;
}

/** True when the hub has answered about every drop of every lane (see `dropConfirmedThrough`). */
export function dropsAnswered(snapshot: AgentSnapshot): boolean {
  return Object.values(snapshot.lanes).every((lane) => lane.dropConfirmedThrough >= lane.droppedThrough);
}

/**
 * Reads `{dataDir}/agent.db` read-only (the agent may be running: WAL readers see the last
 * committed state): lane counters, outbox and unconfirmed rows, the loss ledger.
 * The suite reads the tables directly rather than through the agent's store classes, so a
 * bug there cannot hide itself.
 */
export function readAgentStore(dataDir: string): AgentSnapshot {
  const db = new Database(join(dataDir, AGENT_DB_FILE), { readonly: true, fileMustExist: true });
  try {
    const meta = db.prepare("SELECT value FROM meta WHERE key = 'epoch'").get() as
      | { value: string }
      | undefined;
    if (meta === undefined) throw new Error(`agent store ${dataDir} has no epoch`);
    const empty = (): LaneSnapshot => ({
      assigned: 0,
      acked: 0,
      dropped: 0,
      unconfirmed: 0,
      droppedThrough: 0,
      dropConfirmedThrough: 0,
      pendingRows: 0,
      unconfirmedRows: 0,
      pendingSeqs: [],
      unconfirmedSeqs: [],
      ledger: [],
    });
    const lanes = Object.fromEntries(LANES.map((lane) => [lane, empty()])) as Record<Lane, LaneSnapshot>;
    const lane = (name: string): LaneSnapshot => {
      const found = lanes[name as Lane];
      if (!found) throw new Error(`agent store ${dataDir}: unknown lane ${JSON.stringify(name)}`);
      return found;
    };
    const counters = db
      .prepare(
        `SELECT lane, next_seq, acked, dropped, unconfirmed, dropped_through, drop_confirmed_through
         FROM lane_counters`,
      )
      .all() as CounterRow[];
    for (const row of counters) {
      Object.assign(lane(row.lane), {
        assigned: row.next_seq - 1,
        acked: row.acked,
        dropped: row.dropped,
        unconfirmed: row.unconfirmed,
        droppedThrough: row.dropped_through,
        dropConfirmedThrough: row.drop_confirmed_through,
      });
    }
    const seqs = (table: string) =>
      db.prepare(`SELECT lane, seq FROM ${table} ORDER BY lane, seq`).all() as Array<{
        lane: string;
        seq: number;
      }>;
    for (const row of seqs('outbox')) lane(row.lane).pendingSeqs.push(row.seq);
    for (const row of seqs('loss_unconfirmed')) lane(row.lane).unconfirmedSeqs.push(row.seq);
    for (const snapshot of Object.values(lanes)) {
      snapshot.pendingRows = snapshot.pendingSeqs.length;
      snapshot.unconfirmedRows = snapshot.unconfirmedSeqs.length;
    }
    const ranges = db
      .prepare('SELECT lane, reason, from_seq, to_seq, bytes FROM loss_ledger ORDER BY lane, from_seq')
      .all() as Array<{ lane: string; reason: string; from_seq: number; to_seq: number; bytes: number }>;
    for (const r of ranges)
      lane(r.lane).ledger.push({ reason: r.reason, from: r.from_seq, to: r.to_seq, bytes: r.bytes });
    return { epoch: meta.value, lanes };
  } finally {
    db.close();
  }
}
