import { linkFaultKind, randomPause } from './link-trial.js';
import { sleep } from './plan.js';

/** Flap: the link goes down and up on a random schedule (cut or blackholed while down). */
export const linkFlap = linkFaultKind(
  'flap',
  'link down/up every 20-400 ms (cut or blackholed while down) for 0.8-2.5 s',
  { ci: 4, long: 40 },
  async (proxy, prng, faults) => {
    const how = prng.pick(['cut', 'cut', 'blackhole'] as const);
    const after = await randomPause(prng, 200);
    const ms = prng.int(800, 2500);
    const flapsBefore = proxy.stats().flaps;
    proxy.flap({ how, downMs: () => prng.int(20, 300), upMs: () => prng.int(50, 400) });
    await sleep(ms);
    proxy.heal();
    faults.push(`flap (${how}) ${proxy.stats().flaps - flapsBefore} times over ${ms} ms after ${after} ms`);
  },
);
