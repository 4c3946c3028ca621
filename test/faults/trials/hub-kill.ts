import { RotatingSession } from '../suite/rotation.js';
import { describeEnqueue, planEnqueue, sleep } from './plan.js';
import type { TrialContext, TrialKind, TrialOutcome, TrialRunner } from './types.js';

/** Trials on one store before a fresh one. */
const TRIALS_PER_STORE = 4;
/** Safety net for the drain once the hub is back, ms. */
const DRAIN_TIMEOUT_MS = 30_000;

/**
 * Takes the hub process down while an agent enqueues and drains — `kill -9` (a crash: in
 * the middle of an ingest transaction, acks unsent, broker sessions gone) or SIGTERM (the
 * embedded broker's clean restart) — once or twice, then restarts it on the same data
 * directory. The agent reconnects (to the new port, through its proxy) and resends; the
 * hub must end with every event once. A clean restart is, half the time, accompanied by a
 * cut of every connection through every proxy (every running trial's agent) at that instant.
 */
class HubRestartRunner implements TrialRunner {
  readonly #rotation: RotatingSession;
  readonly #kill: boolean;

  constructor(rotation: RotatingSession, kill: boolean) {
    this.#rotation = rotation;
    this.#kill = kill;
  }

  run(ctx: TrialContext): Promise<TrialOutcome> {
    return this.#rotation.trial(ctx.prng, DRAIN_TIMEOUT_MS, async (session) => {
      const { prng, env } = ctx;
      const plan = planEnqueue(prng, 150, 600);
      ctx.notes.push(describeEnqueue(plan));
      session.enqueue(plan);
      const downs = prng.chance(0.3) ? 2 : 1;
      try {
        for (let i = 0; i < downs; i++) {
          const after = prng.int(0, 500);
          await sleep(after);
          const status = await session.agent.status();
          const acked = Object.values(status.outbox).reduce((n, l) => n + l.acked, 0);
          const cut = !this.#kill && prng.chance(0.5) ? env.cutAll() : undefined;
          await env.hubDown(this.#kill);
          const downMs = prng.int(0, 800);
          await sleep(downMs);
          await env.hubUp();
          ctx.faults.push(
            `${this.#kill ? 'kill -9' : 'SIGTERM'} hub${cut === undefined ? '' : ` + ${cut} connections cut`} ` +
              `after ${after} ms ` +
              `(${acked} acked so far), restarted ${downMs} ms later`,
          );
        }
      } finally {
        // Whatever failed, the other trials need their hub back.
        if (!env.hubRunning) await env.hubUp();
      }
      return undefined;
    });
  }

  close(): Promise<void> {
    return this.#rotation.retire();
  }
}

export const hubKill: TrialKind = {
  describe: 'kill -9 of the hub process during ingest (once or twice); restart on the same data dir',
  counts: { ci: 8, long: 80 },
  group: 'hub',
  create: (env) => new HubRestartRunner(new RotatingSession(env, 'hubkill', TRIALS_PER_STORE), true),
};

export const brokerRestart: TrialKind = {
  describe:
    'clean restart of the hub and its embedded broker (SIGTERM), half the time with every connection cut',
  counts: { ci: 5, long: 50 },
  group: 'hub',
  create: (env) => new HubRestartRunner(new RotatingSession(env, 'restart', TRIALS_PER_STORE), false),
};
