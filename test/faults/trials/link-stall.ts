import type { Directions } from '../fault-proxy.js';
import { linkFaultKind, randomPause } from './link-trial.js';
import { sleep } from './plan.js';

/**
 * Stall: one or both directions stop moving (sockets open, bytes held, delivered in order
 * on heal). Shorter than the keepalive window the connection survives; longer, the agent
 * gives it up and reconnects.
 */
export const linkStall = linkFaultKind(
  'stall',
  'traffic held (sockets open) in one or both directions for 0.1-3 s',
  { ci: 6, long: 60 },
  async (proxy, prng, faults) => {
    const dir = prng.pick<Directions>(['up', 'down', 'both']);
    const after = await randomPause(prng, 200);
    const ms = prng.int(100, 3000);
    proxy.stall(dir);
    await sleep(ms);
    faults.push(`stall ${dir} for ${ms} ms after ${after} ms`);
  },
);
