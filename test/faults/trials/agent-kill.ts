import type { Prng } from '../prng.js';
import { RotatingSession } from '../suite/rotation.js';
import type { StoreSession } from '../suite/session.js';
import { describeEnqueue, planEnqueue, sleep } from './plan.js';
import type { TrialContext, TrialKind, TrialOutcome, TrialRunner } from './types.js';

/** Trials on one store before a fresh one (keeps each check's hub read small). */
const TRIALS_PER_STORE = 12;
/** Safety nets, not timings: an enqueue loop, a drain after the restart. */
const ENQUEUE_TIMEOUT_MS = 60_000;
const DRAIN_TIMEOUT_MS = 30_000;

type KillPoint =
  | { phase: 'enqueue'; afterReceipts: number }
  | { phase: 'drain'; delayMs: number }
  | { phase: 'start'; delayMs: number };

function planKill(prng: Prng, count: number): KillPoint {
  const roll = prng.next();
  if (roll < 0.55) return { phase: 'enqueue', afterReceipts: prng.int(0, count - 1) };
  if (roll < 0.9) return { phase: 'drain', delayMs: prng.int(0, 250) };
  return { phase: 'start', delayMs: prng.int(0, 150) };
}

/**
 * `kill -9` of the agent process at a random point: while the application
 * enqueues (after a random number of receipts, which the kill lags by whatever the child
 * did meanwhile), while the outbox drains, or while a restarted agent opens its store,
 * connects and resends. Then a restart on the same store, a drain, and the invariant.
 */
class AgentKillRunner implements TrialRunner {
  readonly #rotation: RotatingSession;

  constructor(rotation: RotatingSession) {
    this.#rotation = rotation;
  }

  run(ctx: TrialContext): Promise<TrialOutcome> {
    return this.#rotation.trial(ctx.prng, DRAIN_TIMEOUT_MS, (session) => this.#trial(ctx, session));
  }

  async #trial(ctx: TrialContext, session: StoreSession): Promise<undefined> {
    const { prng } = ctx;
    const plan = planEnqueue(prng, 1, 250);
    const kill = planKill(prng, plan.count);
    ctx.notes.push(describeEnqueue(plan));
    const agent = session.agent;
    const tag = session.enqueue(plan);
    if (kill.phase === 'enqueue') {
      await agent.waitReceipts(tag, kill.afterReceipts, ENQUEUE_TIMEOUT_MS);
      await session.kill9();
      ctx.faults.push(`kill -9 agent during enqueue, ${kill.afterReceipts} receipts seen`);
    } else {
      await agent.enqueueDone(tag, ENQUEUE_TIMEOUT_MS);
      const pending = await agent
        .status()
        .then((s) => Object.values(s.outbox).reduce((n, l) => n + l.pending, 0));
      await sleep(kill.phase === 'drain' ? kill.delayMs : 0);
      await session.kill9();
      ctx.faults.push(
        `kill -9 agent during drain, ${pending} pending ${kill.phase === 'drain' ? kill.delayMs : 0} ms before`,
      );
    }
    if (kill.phase === 'start') {
      const wasReady = await session.startAndKill(kill.delayMs);
      ctx.faults.push(
        `kill -9 restarted agent ${kill.delayMs} ms into its start (${wasReady ? 'ready' : 'not ready yet'})`,
      );
    }
    await session.start();
    return undefined;
  }

  close(): Promise<void> {
    return this.#rotation.retire();
  }
}

export const agentKill: TrialKind = {
  describe: 'kill -9 of the agent during enqueue, drain or start; restart on the same store',
  counts: { ci: 100, long: 10_000 },
  group: 'agent',
  streams: 3,
  create: (env) => new AgentKillRunner(new RotatingSession(env, 'kill', TRIALS_PER_STORE)),
};
