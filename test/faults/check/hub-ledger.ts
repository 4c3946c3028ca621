import { LANES } from '../../../shared/index.js';
import type { AgentSnapshot } from './agent-db.js';
import type { HubApi, HubLedger } from './hub-view.js';

/** Polling period and safety net while the hub's view catches up, ms. */
const POLL_MS = 50;
const TIMEOUT_MS = 20_000;

function disagreements(snapshot: AgentSnapshot, ledger: HubLedger): string[] {
  const out: string[] = [];
  if (ledger.epoch !== snapshot.epoch)
    out.push(`hub ledger is for epoch ${ledger.epoch}, not ${snapshot.epoch}`);
  for (const lane of LANES) {
    const agent = snapshot.lanes[lane];
    const hub = ledger.lanes[lane];
    const byReason = (reason: string) =>
      agent.ledger.filter((r) => r.reason === reason).reduce((n, r) => n + r.to - r.from + 1, 0);
    const want = { quota: byReason('quota'), ttl: byReason('ttl'), skipped: agent.dropped };
    const got = { quota: hub.quota.count, ttl: hub.ttl.count, skipped: hub.skippedAtHub };
    if (
      want.quota !== got.quota ||
      want.ttl !== got.ttl ||
      want.skipped !== got.skipped ||
      hub.unconfirmed !== 0
    ) {
      out.push(
        `${lane}: hub shows quota ${got.quota}, ttl ${got.ttl}, skipped ${got.skipped}, unconfirmed ` +
          `${hub.unconfirmed}; the agent's ledger has quota ${want.quota}, ttl ${want.ttl}`,
      );
    }
  }
  return out;
}

/**
 * The ledger is synced to the hub: `GET /v1/devices/{id}` must come to show, per
 * lane, the agent's quota and TTL losses, no unconfirmed drop, and exactly as many seqs
 * skipped at the hub as the ledger counts. The device reports its ledger after each change,
 * so this waits (polling) for the view to agree; what still disagrees after the safety net
 * is returned as problems.
 */
export async function checkHubLedger(
  api: HubApi,
  deviceId: string,
  snapshot: AgentSnapshot,
): Promise<string[]> {
  const deadline = Date.now() + TIMEOUT_MS;
  for (;;) {
    const problems = disagreements(snapshot, await api.ledger(deviceId));
    if (problems.length === 0 || Date.now() > deadline) return problems;
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}
