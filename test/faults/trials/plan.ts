import { LANES } from '../../../shared/index.js';
import type { EnqueueCommand } from '../children/protocol.js';
import type { Prng } from '../prng.js';
import type { SessionTuning } from '../suite/session.js';

/** An enqueue loop as a trial plans it. */
export type EnqueuePlan = Omit<EnqueueCommand, 'op' | 'tag' | 'firstOrdinal'>;

/**
 * A random enqueue loop of `min..max` events: a random subset of the lanes, small or padded
 * bodies, and either a burst (one event per event-loop turn) or a paced stream.
 */
export function planEnqueue(prng: Prng, min: number, max: number): EnqueuePlan {
  const paced = prng.chance(0.5);
  return {
    count: prng.int(min, max),
    lanes: prng.subset(LANES),
    seed: prng.int(0, 2 ** 31),
    padBytes: prng.pick([0, 0, 40, 400, 3000]),
    paceEvery: paced ? prng.int(5, 40) : 0,
    paceMs: paced ? prng.int(1, 4) : 0,
  };
}

/**
 * Random agent settings for a new store: batch bounds, window, durability and, for one
 * store in three, a small drop-oldest quota on telemetry, so bursts overflow it while
 * earlier events are still in flight (drops the hub must answer, across faults).
 */
export function planTuning(prng: Prng): SessionTuning {
  const smallQuota = prng.chance(1 / 3);
  return {
    durability: prng.pick(['crash-safe', 'crash-safe', 'power-safe'] as const),
    outbox: {
      batchMaxEvents: prng.pick([5, 20, 100, 500]),
      batchMaxBytes: prng.pick([8 * 1024, 128 * 1024]),
      window: prng.pick([1, 2, 8]),
      ...(smallQuota ? { lanes: { telemetry: { maxRows: prng.int(10, 80), policy: 'drop-oldest' } } } : {}),
    },
  };
}

/** One line describing an enqueue plan, for the trial's fault list. */
export function describeEnqueue(plan: EnqueuePlan): string {
  const pace = plan.paceEvery > 0 ? `paced ${plan.paceMs} ms/${plan.paceEvery}` : 'burst';
  return `enqueue ${plan.count} events on ${plan.lanes.join('+')}, ${pace}, pad ${plan.padBytes} B`;
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
