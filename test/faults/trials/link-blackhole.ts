import type { Directions } from '../fault-proxy.js';
import { linkFaultKind, randomPause } from './link-trial.js';
import { sleep } from './plan.js';

/**
 * Blackhole: a silent partition — bytes dropped, no FIN, no RST. The connections it hit
 * stay dead after the heal; only the agent's dead-link detection gets it going again.
 */
export const linkBlackhole = linkFaultKind(
  'blackhole',
  'silent partition (bytes dropped, no FIN/RST) for 0.2-2 s; the agent must find the link dead',
  { ci: 3, long: 30 },
  async (proxy, prng, faults) => {
    const dir = prng.pick<Directions>(['up', 'down', 'both']);
    const after = await randomPause(prng, 200);
    const ms = prng.int(200, 2000);
    proxy.blackhole(dir);
    await sleep(ms);
    faults.push(`blackhole ${dir} for ${ms} ms after ${after} ms`);
  },
);
