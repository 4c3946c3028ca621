/**
 * Inspections of the agent's outbox store that only tests need (the agent itself never
 * asks), built on the store's public API and its database.
 */
import type Database from 'better-sqlite3';
import type { OutboxStore } from '../../agent/store/index.js';
import { LANES, type Lane } from '../../shared/index.js';

/** Applies a cumulative ack without a drop answer; returns the rows deleted. */
export function ackUpTo(outbox: OutboxStore, epoch: string, lane: Lane, hwm: number): number {
  return outbox.applyAck({ v: 1, epoch, lane, hwm, stored: 0, duplicates: 0 }).deleted;
}

/** The first lane, in the order of `LANES`, that holds events; `undefined` when all are empty. */
export function firstPendingLane(outbox: OutboxStore): Lane | undefined {
  const states = outbox.laneStates();
  return LANES.find((lane) => (states[lane]?.pending ?? 0) > 0);
}

/** Rows actually stored in `lane` (a check on the counters). */
export function countRows(db: Database.Database, lane: Lane): number {
  return (db.prepare('SELECT COUNT(*) AS n FROM outbox WHERE lane = ?').get(lane) as { n: number }).n;
}

/** The seqs stored in `lane`, oldest first (what a drop or an ack left). */
export function storedSeqs(db: Database.Database, lane: Lane): number[] {
  return (
    db.prepare('SELECT seq FROM outbox WHERE lane = ? ORDER BY seq').all(lane) as Array<{ seq: number }>
  ).map((r) => r.seq);
}
