import { join } from 'node:path';
import Database from 'better-sqlite3';
import { AGENT_DB_FILE } from '../../../agent/index.js';
import { LANES, type Lane } from '../../../shared/index.js';

/** One lane of an agent store, as its SQLite file says. */
export interface LaneSnapshot {
  /** Seqs ever assigned: `lane_counters.next_seq − 1` (the events durably stored, ever). */
  assigned: number;
  /** `lane_counters.acked`. */
  acked: number;
  /** Rows still in the outbox. */
  pendingRows: number;
}

/** What an agent store holds, read from its file without the agent's code. */
export interface AgentSnapshot {
  epoch: string;
  lanes: Record<Lane, LaneSnapshot>;
}

/**
 * Reads `{dataDir}/agent.db` read-only (the agent may be running: WAL readers see the last
 * committed state). The suite reads the tables directly rather than through the agent's
 * store classes, so a bug there cannot hide itself.
 */
export function readAgentStore(dataDir: string): AgentSnapshot {
  const db = new Database(join(dataDir, AGENT_DB_FILE), { readonly: true, fileMustExist: true });
  try {
    const epoch = (
      db.prepare("SELECT value FROM meta WHERE key = 'epoch'").get() as { value: string } | undefined
    )?.value;
    if (epoch === undefined) throw new Error(`agent store ${dataDir} has no epoch`);
    const lanes = Object.fromEntries(
      LANES.map((lane) => [lane, { assigned: 0, acked: 0, pendingRows: 0 }]),
    ) as Record<Lane, LaneSnapshot>;
    const counters = db.prepare('SELECT lane, next_seq, acked FROM lane_counters').all() as Array<{
      lane: Lane;
      next_seq: number;
      acked: number;
    }>;
    for (const row of counters) {
      const lane = lanes[row.lane];
      if (!lane) throw new Error(`agent store ${dataDir}: unknown lane ${row.lane} in lane_counters`);
      lane.assigned = row.next_seq - 1;
      lane.acked = row.acked;
    }
    const pending = db.prepare('SELECT lane, COUNT(*) AS n FROM outbox GROUP BY lane').all() as Array<{
      lane: Lane;
      n: number;
    }>;
    for (const row of pending) {
      const lane = lanes[row.lane];
      if (lane) lane.pendingRows = row.n;
    }
    return { epoch, lanes };
  } finally {
    db.close();
  }
}
