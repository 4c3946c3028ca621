import { join } from 'node:path';
import Database from 'better-sqlite3';
import { AGENT_DB_FILE } from '../../agent/store/index.js';
import type { HubStore } from '../../hub/index.js';
import { LANES, type Lane } from '../../shared/index.js';

/** What one lane looks like from both ends. */
export interface LaneAudit {
  /** Seqs the agent ever assigned (1..enqueued). */
  enqueued: number;
  /** Events the hub holds, seqs the agent's ledger counts as lost, dropped seqs awaiting the hub. */
  atHub: number;
  lost: number;
  unconfirmed: number;
  /** Events still in the agent's outbox. */
  pending: number;
  /** Seqs the hub skipped over. */
  skippedAtHub: number;
}

/** The outcome of {@link auditDelivery}: every broken invariant in words; empty when sound. */
export interface DeliveryAudit {
  epoch: string;
  lanes: Record<Lane, LaneAudit>;
  problems: string[];
}

type SeqSet = Uint8Array;

const mark = (set: SeqSet, from: number, to: number) => {
  for (let s = Math.max(1, from); s <= Math.min(to, set.length - 1); s++) set[s] = 1;
};

/**
 * Checks the delivery contract from the agent's SQLite file and the hub's store
 * (the fault suite's invariant): per lane, with E = the seqs the agent assigned,
 * - the hub holds each seq at most once, in seq order, and nothing above E;
 * - no seq is both held by the hub and booked lost in the agent's ledger;
 * - every seq of 1..E is held by the hub, booked lost, awaiting the hub's word, or pending —
 *   nothing vanished;
 * - the hub skipped only seqs the agent dropped, never one it holds;
 * - when `quiescent` (outbox drained, every drop answered): held ⊎ lost = 1..E exactly, and
 *   the hub's skips equal the ledger.
 * Opens the agent's file read-only (WAL lets it run beside a live agent).
 */
export async function auditDelivery(
  agentDataDir: string,
  hub: HubStore,
  deviceId: string,
  options: { quiescent: boolean },
): Promise<DeliveryAudit> {
  const db = new Database(join(agentDataDir, AGENT_DB_FILE), { readonly: true, fileMustExist: true });
  const problems: string[] = [];
  const lanes = {} as Record<Lane, LaneAudit>;
  let epoch = '';
  try {
    epoch = (db.prepare("SELECT value FROM meta WHERE key = 'epoch'").get() as { value: string }).value;
    const skips = (await hub.listSkips(deviceId)).filter((s) => s.epoch === epoch);
    for (const lane of LANES) {
      const say = (what: string) => problems.push(`${lane}: ${what}`);
      const c = db.prepare('SELECT next_seq FROM lane_counters WHERE lane = ?').get(lane) as {
        next_seq: number;
      };
      const enqueued = c.next_seq - 1;
      const held: SeqSet = new Uint8Array(enqueued + 1);
      const lost: SeqSet = new Uint8Array(enqueued + 1);
      const waiting: SeqSet = new Uint8Array(enqueued + 1);
      const skipped: SeqSet = new Uint8Array(enqueued + 1);
      let atHub = 0;
      let previous = 0;
      for (let after = 0; ; ) {
        const page = await hub.listEvents(deviceId, {
          epoch,
          lane,
          after: { epoch, lane, seq: after },
          limit: 5000,
        });
        for (const e of page) {
          if (e.seq <= previous) say(`hub order broken: seq ${e.seq} after ${previous}`);
          if (e.seq > enqueued) say(`hub holds seq ${e.seq} above the ${enqueued} the agent assigned`);
          else if (held[e.seq]) say(`hub holds seq ${e.seq} twice`);
          else held[e.seq] = 1;
          previous = e.seq;
          atHub += 1;
        }
        const last = page.at(-1);
        if (!last || page.length < 5000) break;
        after = last.seq;
      }
      const ranges = db
        .prepare('SELECT from_seq, to_seq FROM loss_ledger WHERE lane = ?')
        .all(lane) as Array<{
        from_seq: number;
        to_seq: number;
      }>;
      let lostCount = 0;
      for (const r of ranges) {
        for (let s = r.from_seq; s <= r.to_seq; s++) {
          if (lost[s]) say(`ledger books seq ${s} twice`);
          lost[s] = 1;
          lostCount += 1;
        }
      }
      const unconfirmed = db.prepare('SELECT seq FROM loss_unconfirmed WHERE lane = ?').all(lane) as Array<{
        seq: number;
      }>;
      for (const u of unconfirmed) mark(waiting, u.seq, u.seq);
      const pendingRows = db.prepare('SELECT seq FROM outbox WHERE lane = ?').all(lane) as Array<{
        seq: number;
      }>;
      for (const p of pendingRows) mark(waiting, p.seq, p.seq);
      let skippedCount = 0;
      for (const s of skips.filter((k) => k.lane === lane)) {
        mark(skipped, s.from, s.to);
        skippedCount += s.to - s.from + 1;
      }
      let both = 0;
      let vanished = 0;
      let skippedHeld = 0;
      let skippedNotDropped = 0;
      let ledgerNotSkipped = 0;
      for (let s = 1; s <= enqueued; s++) {
        if (held[s] && lost[s]) both += 1;
        if (!held[s] && !lost[s] && !waiting[s]) vanished += 1;
        if (skipped[s] && held[s]) skippedHeld += 1;
        if (skipped[s] && !lost[s] && !waiting[s]) skippedNotDropped += 1;
        if (lost[s] && !skipped[s]) ledgerNotSkipped += 1;
      }
      if (both) say(`${both} seqs both held by the hub and booked lost`);
      if (vanished) say(`${vanished} seqs neither at the hub, nor in the ledger, nor pending: lost silently`);
      if (skippedHeld) say(`${skippedHeld} seqs skipped by the hub although it holds them`);
      if (skippedNotDropped) say(`${skippedNotDropped} seqs skipped by the hub that the agent never dropped`);
      if (options.quiescent) {
        if (pendingRows.length || unconfirmed.length) {
          say(`not quiescent: ${pendingRows.length} pending, ${unconfirmed.length} unconfirmed`);
        }
        if (atHub + lostCount !== enqueued) say(`held ${atHub} + lost ${lostCount} ≠ enqueued ${enqueued}`);
        if (ledgerNotSkipped) say(`${ledgerNotSkipped} seqs booked lost that the hub never skipped`);
      }
      lanes[lane] = {
        enqueued,
        atHub,
        lost: lostCount,
        unconfirmed: unconfirmed.length,
        pending: pendingRows.length,
        skippedAtHub: skippedCount,
      };
    }
  } finally {
    db.close();
  }
  return { epoch, lanes, problems };
}
