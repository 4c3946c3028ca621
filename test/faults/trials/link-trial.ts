import type { FaultProxy } from '../fault-proxy.js';
import type { Prng } from '../prng.js';
import { RotatingSession } from '../suite/rotation.js';
import { describeEnqueue, planEnqueue, sleep } from './plan.js';
import type { TrialContext, TrialKind, TrialOutcome, TrialRunner } from './types.js';

/** Trials on one store (its agent lives through all of them) before a fresh one. */
const TRIALS_PER_STORE = 6;
/**
 * Safety net for the drain after the fault is healed, ms. A blackholed link is found dead
 * by the agent's own detection (MQTT keepalive, 5 s in the suite, so within 7.5 s, or the
 * application-level ping once the agent has it), then it reconnects: well under this.
 */
const DRAIN_TIMEOUT_MS = 30_000;

/**
 * Injects one kind of link fault through the trial's proxy while the agent enqueues and
 * drains, and heals it; resolves once the fault is over. Appends what it did to `faults`.
 */
export type LinkFault = (proxy: FaultProxy, prng: Prng, faults: string[]) => Promise<void>;

/** Waits a random 0..`maxMs` ms and returns how long it waited. */
export async function randomPause(prng: Prng, maxMs: number): Promise<number> {
  const ms = prng.int(0, maxMs);
  await sleep(ms);
  return ms;
}

/**
 * A link-fault trial: the agent (kept running across trials) enqueues a random workload
 * while `fault` acts on the proxy between it and the broker; once healed, the agent must
 * drain everything, and the invariant holds.
 */
class LinkFaultRunner implements TrialRunner {
  readonly #rotation: RotatingSession;
  readonly #fault: LinkFault;

  constructor(rotation: RotatingSession, fault: LinkFault) {
    this.#rotation = rotation;
    this.#fault = fault;
  }

  run(ctx: TrialContext): Promise<TrialOutcome> {
    return this.#rotation.trial(ctx.prng, DRAIN_TIMEOUT_MS, async (session) => {
      const plan = planEnqueue(ctx.prng, 40, 400);
      ctx.notes.push(describeEnqueue(plan));
      session.enqueue(plan);
      try {
        await this.#fault(session.proxy, ctx.prng, ctx.faults);
      } finally {
        session.proxy.heal();
      }
      return undefined;
    });
  }

  close(): Promise<void> {
    return this.#rotation.retire();
  }
}

/** A trial kind for one link fault. */
export function linkFaultKind(
  name: string,
  describe: string,
  counts: { ci: number; long: number },
  fault: LinkFault,
): TrialKind {
  return {
    describe,
    counts,
    group: 'link',
    create: (env) => new LinkFaultRunner(new RotatingSession(env, name, TRIALS_PER_STORE), fault),
  };
}
