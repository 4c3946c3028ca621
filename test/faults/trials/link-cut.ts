import { linkFaultKind, randomPause } from './link-trial.js';

/** Cut: every connection through the proxy reset (RST both sides), 1-3 times. */
export const linkCut = linkFaultKind(
  'cut',
  'connections reset (RST both ways) 1-3 times during enqueue and drain',
  { ci: 10, long: 100 },
  async (proxy, prng, faults) => {
    const cuts = prng.int(1, 3);
    for (let i = 0; i < cuts; i++) {
      const after = await randomPause(prng, 400);
      faults.push(`cut ${proxy.cut()} connection(s) after ${after} ms`);
    }
  },
);
