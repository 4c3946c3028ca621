import type { Lane } from '../../../shared/index.js';
import type { Prng } from '../prng.js';
import { RotatingSession } from '../suite/rotation.js';
import type { StoreSession } from '../suite/session.js';
import { describeEnqueue, planEnqueue, planTuning, sleep } from './plan.js';
import type { TrialContext, TrialKind, TrialOutcome, TrialRunner } from './types.js';

/** TTL of the telemetry lane in these trials, s (results: none). */
const TTL_S = 600;
const TTL_MS = TTL_S * 1000;
/** Expiry sweep period of these agents, ms; a pause of several sweeps proves "not yet". */
const SWEEP_MS = 50;
const SEVERAL_SWEEPS_MS = 400;
const TRIALS_PER_STORE = 3;
const TIMEOUT_MS = 30_000;
const LANES_USED: Lane[] = ['telemetry', 'results'];

const WALL_JUMPS_MS = [60_000, 3_600_000, 86_400_000, 10 * 365 * 86_400_000];

function wallJump(prng: Prng): number {
  return (prng.chance(0.5) ? -1 : 1) * prng.pick(WALL_JUMPS_MS);
}

/**
 * Wall-clock jumps backward and forward: TTLs count in the agent's persisted
 * monotonic clock, so a jump must neither expire an event early nor keep one forever, and
 * order is unaffected. Offline, the agent stores a batch A; the wall clock jumps; the
 * monotonic source moves on by m1 < TTL; nothing may expire. It stores batch B (sometimes
 * after a `kill -9` and restart, which must resume the persisted clock), the wall clock jumps
 * again and the monotonic source moves on by m2 with m1 + m2 > TTL > m2: exactly A's
 * telemetry events expire, B's stay. Back online, everything else reaches the hub.
 */
class ClockJumpRunner implements TrialRunner {
  readonly #rotation: RotatingSession;

  constructor(rotation: RotatingSession) {
    this.#rotation = rotation;
  }

  run(ctx: TrialContext): Promise<TrialOutcome> {
    return this.#rotation.trial(ctx.prng, TIMEOUT_MS, async (session) => {
      const expected = await this.#trial(ctx, session);
      await session.goOnline();
      return expected.problems;
    });
  }

  async #trial(ctx: TrialContext, session: StoreSession): Promise<{ problems: string[] }> {
    const { prng } = ctx;
    const problems: string[] = [];
    const ttlCount = async () => (await session.agent.status()).ledger.telemetry.ttl.count;
    await session.goOffline();
    const before = await ttlCount();

    const a = { ...planEnqueue(prng, 5, 120), lanes: prng.subset(LANES_USED) };
    ctx.notes.push(`A: ${describeEnqueue(a)}`);
    const tagA = session.enqueue(a);
    await session.agent.enqueueDone(tagA, TIMEOUT_MS);

    const wall1 = wallJump(prng);
    const m1 = prng.int(0.3 * TTL_MS, 0.6 * TTL_MS);
    await session.agent.moveClock(wall1, m1);
    ctx.faults.push(`wall clock ${wall1 > 0 ? '+' : ''}${wall1} ms, monotonic +${m1} ms`);
    await sleep(SEVERAL_SWEEPS_MS);
    if ((await ttlCount()) !== before) problems.push(`expired early: after ${m1} ms of a ${TTL_MS} ms TTL`);

    const b = { ...planEnqueue(prng, 5, 120), lanes: prng.subset(LANES_USED) };
    ctx.notes.push(`B: ${describeEnqueue(b)}`);
    const tagB = session.enqueue(b);
    await session.agent.enqueueDone(tagB, TIMEOUT_MS);

    if (prng.chance(0.5)) {
      await session.kill9();
      await session.start();
      ctx.faults.push('kill -9 agent and restart (the agent clock resumes from the store)');
    }
    const wall2 = -Math.sign(wall1) * prng.pick(WALL_JUMPS_MS);
    const m2 = TTL_MS - m1 + prng.int(0.1 * TTL_MS, 0.25 * TTL_MS);
    await session.agent.moveClock(wall2, m2);
    ctx.faults.push(`wall clock ${wall2 > 0 ? '+' : ''}${wall2} ms, monotonic +${m2} ms`);

    const aTelemetry = session.receiptsOf(tagA).filter((r) => r.lane === 'telemetry' && r.seq !== undefined);
    const want = before + aTelemetry.length;
    const deadline = Date.now() + TIMEOUT_MS;
    while ((await ttlCount()) < want && Date.now() < deadline) await sleep(SWEEP_MS);
    await sleep(SEVERAL_SWEEPS_MS);
    const got = await ttlCount();
    if (got !== want) {
      problems.push(`TTL drops: ${got - before}, expected exactly A's ${aTelemetry.length} telemetry events`);
    }
    return { problems };
  }

  close(): Promise<void> {
    return this.#rotation.retire();
  }
}

export const clockJump: TrialKind = {
  describe: 'wall clock jumps both ways while offline; TTL follows the persisted monotonic clock only',
  counts: { ci: 4, long: 40 },
  group: 'link',
  create: (env) =>
    new ClockJumpRunner(
      new RotatingSession(env, 'clock', TRIALS_PER_STORE, (prng) => {
        const tuning = planTuning(prng);
        return {
          ...tuning,
          // The agent's own periodic report goes to the telemetry lane too; one expiring in
          // the window would make the TTL count more than A's. A day's interval keeps it out.
          telemetry: { intervalMs: 86_400_000 },
          outbox: {
            ...tuning.outbox,
            expirySweepMs: SWEEP_MS,
            lanes: { telemetry: { policy: 'drop-oldest', ttlS: TTL_S }, results: { ttlS: 0 } },
          },
        };
      }),
    ),
};
