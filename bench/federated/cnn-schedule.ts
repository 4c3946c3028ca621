/** One method of one partition under the protocol, each run priced: its grid, then its other seeds. */
export interface Chain {
  /** The grid values' runs on the first seed, one after another. */
  grid: number[];
  /** The other seeds' runs at the chosen lr, all ready once the grid is done. */
  seeds: number[];
}

/**
 * Wall time of `chains` on `processes` workers that take the runs in order of readiness (ties:
 * the order the chains are given, as the bench starts them), as `CnnPool` does: a list
 * schedule, simulated run by run. In the same unit as the runs' costs.
 */
export function makespan(chains: readonly Chain[], processes: number): number {
  const free = Array.from({ length: Math.max(1, processes) }, () => 0);
  // step: the grid value's index, or -1 for a seed's run (nothing follows it).
  const ready: Array<{ at: number; order: number; cost: number; chain: number; step: number }> = [];
  let order = 0;
  const readyAfter = (chain: number, step: number, at: number) => {
    const c = chains[chain] as Chain;
    if (step < c.grid.length) ready.push({ at, order: order++, cost: c.grid[step] as number, chain, step });
    else for (const cost of c.seeds) ready.push({ at, order: order++, cost, chain, step: -1 });
  };
  for (let chain = 0; chain < chains.length; chain++) readyAfter(chain, 0, 0);
  let end = 0;
  while (ready.length > 0) {
    ready.sort((a, b) => a.at - b.at || a.order - b.order);
    const job = ready.shift() as (typeof ready)[number];
    const w = free.indexOf(Math.min(...free));
    const done = Math.max(job.at, free[w] as number) + job.cost;
    free[w] = done;
    end = Math.max(end, done);
    if (job.step >= 0) readyAfter(job.chain, job.step + 1, done);
  }
  return end;
}
