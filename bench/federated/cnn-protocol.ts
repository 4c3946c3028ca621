/** What one simulated run came to. */
export interface RunOutcome {
  /** First round at or above the target, or null when not within the rounds run. */
  roundsToTarget: number | null;
  /** Highest test accuracy over the rounds run (picks the lr when no grid value reaches the target). */
  bestAccuracy: number;
  /** The round whose local training gave a non-finite weight, where the run stopped; null when it did not diverge. */
  divergedAt: number | null;
  /** Test accuracy of the initial model. */
  initialAccuracy: number;
  /** Test accuracy after each round run. */
  accuracies: number[];
  /** Wall time of the run, s (0: answered from a file of recorded runs). */
  seconds: number;
}

/** The accuracies a run measured: the initial model's and one after each round run. */
export interface RunAccuracies {
  initialAccuracy: number;
  accuracies: number[];
  divergedAt: number | null;
}

/**
 * The outcome of a run at `target` within `rounds`, from the accuracies it measured (the rounds
 * past `rounds`, or past the first at the target, are left out): how a worker reports its run
 * and how a recorded run answers a later one. `seconds` is the caller's.
 */
export function outcomeWithin(r: RunAccuracies, target: number, rounds: number): Omit<RunOutcome, 'seconds'> {
  const seen = r.accuracies.slice(0, rounds);
  const reached = seen.findIndex((a) => a >= target);
  const upTo = reached >= 0 ? seen.slice(0, reached + 1) : seen;
  return {
    roundsToTarget: reached >= 0 ? reached + 1 : null,
    bestAccuracy: Math.max(r.initialAccuracy, ...upTo),
    divergedAt: reached < 0 && r.divergedAt !== null && r.divergedAt <= rounds ? r.divergedAt : null,
    accuracies: upTo,
    initialAccuracy: r.initialAccuracy,
  };
}

/** Runs one simulation of a method at `lr` and `seed` for at most `rounds` rounds. */
export type RunOne = (lr: number, seed: number, rounds: number) => Promise<RunOutcome>;

/** One grid value's run on the first seed. */
export interface GridRun {
  lr: number;
  /** The rounds it was allowed: the cap, or the best lr's rounds so far (the cut). */
  limit: number;
  outcome: RunOutcome;
}

/** A method's result under the protocol: the grid on the first seed, the seeds at the chosen lr. */
export interface ProtocolResult {
  grid: GridRun[];
  lr: number;
  /** Rounds to the target per seed at the chosen lr, in seed order (null: not within the cap). */
  rounds: Array<number | null>;
  outcomes: RunOutcome[];
}

/** How many values past its end a grid whose best value is at that end may try. */
export const EDGE_STEPS = 2;

/**
 * Picks the lr on the first seed and runs the other seeds at it. The grid runs in order; a
 * value is allowed only the best value's rounds so far, since past them it can no longer be
 * chosen (ties keep the earlier value). A simulation is deterministic for its seed, so a run
 * stopped there is the first rounds of the same run uncut: the choice is the one the whole grid
 * would make, and a later value costs at most the best's rounds. When the best value is the
 * grid's largest, twice it runs next (half of it when the smallest), and so on while that wins,
 * at most {@link EDGE_STEPS} values. When no value reaches the
 * target within the cap, the one with the highest accuracy is chosen (each of them ran the cap),
 * leaving out values that diverged unless all did.
 */
export async function runProtocol(
  lrs: readonly number[],
  cap: number,
  seeds: readonly number[],
  run: RunOne,
): Promise<ProtocolResult> {
  const [first, ...rest] = seeds;
  if (first === undefined || lrs.length === 0) throw new RangeError('runProtocol: no seed or no lr');
  const grid: GridRun[] = [];
  let best: GridRun | undefined;
  const tryLr = async (lr: number) => {
    const limit = best?.outcome.roundsToTarget ?? cap;
    const entry = { lr, limit, outcome: await run(lr, first, limit) };
    grid.push(entry);
    const r = entry.outcome.roundsToTarget;
    if (r !== null && (best === undefined || r < limit)) best = entry;
  };
  for (const lr of lrs) await tryLr(lr);
  // A best value at an end of the grid may not be the best rate: the grid extends past that end
  // (×2 above, ÷2 below) while the new value wins, at most EDGE_STEPS times.
  for (let step = 0; step < EDGE_STEPS && best !== undefined; step++) {
    const tried = grid.map((g) => g.lr);
    const edge = best.lr;
    if (edge === Math.max(...tried)) await tryLr(edge * 2);
    else if (edge === Math.min(...tried)) await tryLr(edge / 2);
    else break;
    if (best.lr === edge) break;
  }
  const finite = grid.filter((e) => e.outcome.divergedAt === null);
  const candidates = finite.length > 0 ? finite : grid;
  const chosen =
    best ?? candidates.reduce((a, e) => (e.outcome.bestAccuracy > a.outcome.bestAccuracy ? e : a));
  // The other seeds are independent of each other: all at once (the pool bounds the processes).
  const others = await Promise.all(rest.map((seed) => run(chosen.lr, seed, cap)));
  const outcomes = [chosen.outcome, ...others];
  return { grid, lr: chosen.lr, rounds: outcomes.map((o) => o.roundsToTarget), outcomes };
}

/**
 * A grid run as the table shows it: its rounds, "diverged (round N)", "> N (cut)" when stopped
 * at the best's, "> cap".
 */
export function gridCell(g: GridRun, cap: number): string {
  const r = g.outcome.roundsToTarget;
  if (r !== null) return String(r);
  if (g.outcome.divergedAt !== null) return `diverged (round ${g.outcome.divergedAt})`;
  return g.limit < cap ? `> ${g.limit} (cut)` : `> ${cap}`;
}
