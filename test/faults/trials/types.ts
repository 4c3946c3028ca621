import type { Tally } from '../check/invariant.js';
import type { Prng } from '../prng.js';
import type { SuiteEnv } from '../suite/env.js';

/** See {@link TrialKind.group}. */
export type TrialGroup = 'agent' | 'link' | 'hub';

/** What one trial is given. */
export interface TrialContext {
  env: SuiteEnv;
  /** The trial's own PRNG, seeded with `seed`. */
  prng: Prng;
  seed: number;
  /** 0-based index of the trial within its kind. */
  index: number;
  /** The trial appends one line per fault it injects (what, when, how long). */
  faults: string[];
  /** The trial appends what else it did (its workload), printed when it fails. */
  notes: string[];
}

/** What a trial found: the invariant's figures and every violation. */
export interface TrialOutcome {
  tally: Tally;
  problems: string[];
  /** Where to look when it failed (store directory, logs). */
  evidence?: string[];
}

/** The trials of one kind, sharing state (e.g. a long-lived agent store) between them. */
export interface TrialRunner {
  run(ctx: TrialContext): Promise<TrialOutcome>;
  /** Releases what the trials kept (agents, proxies). */
  close(): Promise<void>;
}

/** One kind of fault trial, registered in the table of `registry.ts`. */
export interface TrialKind {
  /** One line: what the trial does. */
  readonly describe: string;
  /** Trials in the CI size and in the long mode. */
  readonly counts: { ci: number; long: number };
  /**
   * Kinds of one group run one after another; the groups run at the same time, each trial
   * on its own stores and proxy. `hub` trials restart the one hub every trial shares: the
   * others ride through those restarts (their invariant must hold all the same).
   */
  readonly group: TrialGroup;
  /**
   * Trials of this kind run in this many concurrent streams, each with its own runner
   * (stores, proxy): most of a trial is waiting for round trips, not CPU. Default 1.
   */
  readonly streams?: number;
  create(env: SuiteEnv): TrialRunner;
}
