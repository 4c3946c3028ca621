import { join } from 'node:path';
import Database from 'better-sqlite3';
import { AGENT_DB_FILE } from '../../../agent/index.js';
import { readAgentStore } from '../check/agent-db.js';
import { checkInvariant } from '../check/invariant.js';
import type { SuiteEnv } from './env.js';
import { StoreSession } from './session.js';

/** Safety net for the control delivery, ms. */
const TIMEOUT_MS = 30_000;

/**
 * A negative control run before the trials: a real agent delivers a few events, the check
 * must pass; then its store is tampered with (one event stored and "acknowledged" that the
 * hub never got; then a delivered event booked lost in the ledger) and the same check,
 * reading the same files and the same hub, must report each. Returns what went wrong with
 * the control itself; empty when the checker proved it can fail.
 */
export async function selfCheck(env: SuiteEnv): Promise<string[]> {
  const session = await StoreSession.open(env, 'control');
  const problems: string[] = [];
  try {
    await session.start();
    const tag = session.enqueue({
      count: 20,
      lanes: ['telemetry'],
      seed: 1,
      padBytes: 0,
      paceEvery: 0,
      paceMs: 0,
    });
    await session.agent.enqueueDone(tag, TIMEOUT_MS);
    await session.waitDrained(TIMEOUT_MS);
    await session.kill9();
    const check = async () => {
      const snapshot = readAgentStore(session.dataDir);
      const hubEvents = await env.api.events(session.name, snapshot.epoch);
      return checkInvariant({ snapshot, hubEvents, receipts: session.receipts });
    };
    const clean = await check();
    if (clean.problems.length > 0)
      problems.push(`a sound delivery failed the check: ${clean.problems.join('; ')}`);

    const db = new Database(join(session.dataDir, AGENT_DB_FILE));
    try {
      db.exec("UPDATE lane_counters SET next_seq = next_seq + 1, acked = acked + 1 WHERE lane = 'telemetry'");
      const lost = await check();
      if (lost.tally.lost !== 1)
        problems.push(`an event missing at the hub went unnoticed (lost ${lost.tally.lost})`);
      db.exec(`UPDATE lane_counters SET next_seq = next_seq - 1, acked = acked - 2, dropped = 1 WHERE lane = 'telemetry';
        INSERT INTO loss_ledger (lane, reason, from_seq, to_seq, bytes, first_at, last_at)
        VALUES ('telemetry', 'quota', 1, 1, 10, 0, 0)`);
      const booked = await check();
      if (!booked.problems.some((p) => p.includes('at the hub and booked lost'))) {
        problems.push(`a delivered event booked lost went unnoticed: ${booked.problems.join('; ')}`);
      }
    } finally {
      db.close();
    }
  } finally {
    await session.close();
  }
  return problems;
}
