import type { Tally } from '../check/invariant.js';
import type { Prng } from '../prng.js';
import { planTuning } from '../trials/plan.js';
import type { TrialOutcome } from '../trials/types.js';
import type { SuiteEnv } from './env.js';
import { type SessionTuning, StoreSession } from './session.js';

const ZERO: Tally = { sent: 0, ingested: 0, dropped: 0, duplicates: 0, lost: 0 };

/**
 * A store reused by consecutive trials of one kind (each trial's restart is the next one's
 * running agent), replaced by a fresh store and device every `trialsPerStore` trials and
 * after any failure. The invariant is checked over the whole store each time; the figures
 * reported per trial are what changed since the previous check.
 */
export class RotatingSession {
  readonly #env: SuiteEnv;
  readonly #prefix: string;
  readonly #trialsPerStore: number;
  readonly #tuning: (prng: Prng) => SessionTuning;
  #session: StoreSession | undefined;
  #used = 0;
  #baseline: Tally = ZERO;

  constructor(env: SuiteEnv, prefix: string, trialsPerStore: number, tuning = planTuning) {
    this.#env = env;
    this.#prefix = prefix;
    this.#trialsPerStore = trialsPerStore;
    this.#tuning = tuning;
  }

  /** The session for the next trial, with an agent running; a new store when due. */
  async next(prng: Prng): Promise<StoreSession> {
    if (this.#session && (this.#used >= this.#trialsPerStore || !this.#session.running)) await this.retire();
    if (!this.#session) {
      this.#session = await StoreSession.open(this.#env, this.#prefix, this.#tuning(prng));
      this.#baseline = ZERO;
      this.#used = 0;
      await this.#session.start();
    }
    this.#used += 1;
    return this.#session;
  }

  /**
   * Runs one trial on the next session: `body` injects the faults and the workload (and may
   * return problems of its own); then the agent must drain within `drainTimeoutMs`, and the
   * store is checked — also when it did not drain, so that the report names what is missing
   * rather than only that it never came. A store with a problem is retired.
   */
  async trial(
    prng: Prng,
    drainTimeoutMs: number,
    body: (session: StoreSession) => Promise<string[] | undefined>,
  ): Promise<TrialOutcome> {
    const session = await this.next(prng);
    try {
      const own = (await body(session)) ?? [];
      let notDrained: string | undefined;
      await session.waitDrained(drainTimeoutMs).catch((err: unknown) => {
        notDrained = err instanceof Error ? err.message : String(err);
      });
      const outcome = await this.check(session);
      outcome.problems.push(...own);
      if (notDrained !== undefined) outcome.problems.unshift(notDrained);
      if (outcome.problems.length > 0) await this.retire();
      return outcome;
    } catch (err) {
      await this.retire();
      throw err;
    }
  }

  /** Checks the store; figures are relative to the previous check of the same store. */
  async check(session: StoreSession): Promise<TrialOutcome> {
    const { tally, problems } = await session.check();
    const base = this.#baseline;
    this.#baseline = tally;
    return {
      tally: {
        sent: tally.sent - base.sent,
        ingested: tally.ingested - base.ingested,
        dropped: tally.dropped - base.dropped,
        duplicates: tally.duplicates,
        lost: tally.lost,
      },
      problems,
      evidence: [`store ${session.dataDir}`],
    };
  }

  /** Closes the current store's agent and proxy; the next trial gets a fresh store. */
  async retire(): Promise<void> {
    const session = this.#session;
    this.#session = undefined;
    await session?.close();
  }
}
