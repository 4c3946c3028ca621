import type { Lane } from '../../../shared/index.js';
import type { Prng } from '../prng.js';
import { RotatingSession } from '../suite/rotation.js';
import type { SessionTuning, StoreSession } from '../suite/session.js';
import { describeEnqueue, planEnqueue, planTuning, sleep } from './plan.js';
import type { TrialContext, TrialKind, TrialOutcome, TrialRunner } from './types.js';

const TRIALS_PER_STORE = 3;
const TIMEOUT_MS = 30_000;
const LANES_USED: Lane[] = ['telemetry', 'learning', 'results'];

/**
 * Quota drops: lanes with small row quotas overflow while the agent is offline —
 * `drop-oldest` lanes (telemetry, learning) drop their oldest events into the loss ledger,
 * the `back-pressure` lane (results) refuses new ones (`AGENT_OUTBOX_FULL`). Either the
 * whole workload is stored offline (then the ledger must grow by exactly the overflow of
 * each drop-oldest lane, the hub must get exactly the newest events, and exactly the
 * overflow of results is refused), or the link is cut in the middle of it (events already
 * published are dropped too: the hub's answer decides whether they are lost). Back online,
 * the invariant: the ledger equals exactly what is missing at the hub.
 */
class QuotaDropRunner implements TrialRunner {
  readonly #rotation: RotatingSession;

  constructor(rotation: RotatingSession) {
    this.#rotation = rotation;
  }

  run(ctx: TrialContext): Promise<TrialOutcome> {
    return this.#rotation.trial(ctx.prng, TIMEOUT_MS, async (session) => {
      const problems = await this.#trial(ctx, session);
      await session.goOnline();
      return problems;
    });
  }

  async #trial(ctx: TrialContext, session: StoreSession): Promise<string[]> {
    const { prng } = ctx;
    const before = (await session.agent.status()).ledger;
    const plan = { ...planEnqueue(prng, 20, 250), lanes: prng.subset(LANES_USED), paceEvery: 0, paceMs: 0 };
    ctx.notes.push(`${describeEnqueue(plan)}; lanes ${JSON.stringify(session.tuning.outbox?.lanes)}`);
    const offlineFirst = prng.chance(0.6);
    if (offlineFirst) {
      await session.goOffline();
      ctx.faults.push('offline before the workload');
    }
    const tag = session.enqueue({ ...plan, paceEvery: offlineFirst ? 0 : 10, paceMs: offlineFirst ? 0 : 2 });
    if (!offlineFirst) {
      const at = prng.int(0, plan.count);
      await session.agent.waitReceipts(tag, at, TIMEOUT_MS);
      await session.goOffline();
      ctx.faults.push(`offline after ${at} of ${plan.count} receipts`);
    }
    await session.agent.enqueueDone(tag, TIMEOUT_MS);
    await sleep(0);
    const after = (await session.agent.status()).ledger;
    const ledgerQuota = (lane: Lane) => after[lane].quota.count - before[lane].quota.count;
    ctx.faults.push(
      `quota drops: telemetry ${ledgerQuota('telemetry')}, learning ${ledgerQuota('learning')}; ` +
        `results refused ${session.receiptsOf(tag).filter((r) => r.refused).length}`,
    );
    return offlineFirst ? this.#exact(session, tag, ledgerQuota) : [];
  }

  /** Offline from the start: each lane's overflow is known exactly. */
  #exact(session: StoreSession, tag: string, ledgerQuota: (lane: Lane) => number): string[] {
    const problems: string[] = [];
    const receipts = session.receiptsOf(tag);
    for (const lane of LANES_USED) {
      const mine = receipts.filter((r) => r.lane === lane);
      const quota = Number(session.tuning.outbox?.lanes?.[lane]?.maxRows ?? Number.POSITIVE_INFINITY);
      const overflow = Math.max(0, mine.length - quota);
      if (lane === 'results') {
        const refused = mine.filter((r) => r.refused !== undefined);
        if (refused.length !== overflow)
          problems.push(`results: ${refused.length} refused, expected ${overflow}`);
        if (refused.some((r) => r.refused !== 'AGENT_OUTBOX_FULL'))
          problems.push('results: refused with another code');
        if (ledgerQuota(lane) !== 0)
          problems.push(`results: ${ledgerQuota(lane)} drops in a back-pressure lane`);
      } else if (ledgerQuota(lane) !== overflow) {
        problems.push(`${lane}: ledger grew by ${ledgerQuota(lane)}, the overflow was ${overflow}`);
      }
    }
    return problems;
  }

  close(): Promise<void> {
    return this.#rotation.retire();
  }
}

/** Small row quotas: telemetry and learning drop the oldest, results push back. */
function tuning(prng: Prng): SessionTuning {
  const base = planTuning(prng);
  const quotas = { telemetry: prng.int(5, 60), learning: prng.int(3, 30), results: prng.int(5, 60) };
  return {
    ...base,
    outbox: {
      ...base.outbox,
      lanes: {
        telemetry: { maxRows: quotas.telemetry, policy: 'drop-oldest', ttlS: 0 },
        learning: { maxRows: quotas.learning, policy: 'drop-oldest', ttlS: 0 },
        results: { maxRows: quotas.results, policy: 'back-pressure', ttlS: 0 },
      },
    },
  };
}

export const quotaDrop: TrialKind = {
  describe: 'lanes overflow their row quotas offline: drop-oldest into the ledger, back-pressure refuses',
  counts: { ci: 6, long: 60 },
  group: 'link',
  create: (env) => new QuotaDropRunner(new RotatingSession(env, 'quota', TRIALS_PER_STORE, tuning)),
};
