import type { Directions } from '../fault-proxy.js';
import { linkFaultKind, randomPause } from './link-trial.js';
import { sleep } from './plan.js';

/** Throttle: one or both directions limited to a few kB/s for a while. */
export const linkThrottle = linkFaultKind(
  'throttle',
  'bandwidth limited to 2-32 kB/s in one or both directions for 0.5-2.5 s',
  { ci: 4, long: 40 },
  async (proxy, prng, faults) => {
    const dir = prng.pick<Directions>(['up', 'down', 'both']);
    const rate = prng.pick([2000, 8000, 32_000]);
    const after = await randomPause(prng, 100);
    const ms = prng.int(500, 2500);
    proxy.throttle(rate, dir);
    await sleep(ms);
    faults.push(`throttle ${dir} to ${rate} B/s for ${ms} ms after ${after} ms`);
  },
);
