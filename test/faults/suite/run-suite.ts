import type { Tally } from '../check/invariant.js';
import { Prng, trialSeed } from '../prng.js';
import { TRIAL_KINDS, type TrialKindName } from '../trials/registry.js';
import type { TrialOutcome, TrialRunner } from '../trials/types.js';
import type { SuiteEnv } from './env.js';
import type { SuiteOptions } from './options.js';
import { failureDetails, type TrialRecord, trialLine } from './report.js';

const NO_TALLY: Tally = { sent: 0, ingested: 0, dropped: 0, duplicates: 0, lost: 0 };
/**
 * A kind stops after this many failed trials (a broken build fails fast rather than waiting
 * out every trial's drain timeout); its remaining trials are reported as not run.
 */
const MAX_FAILURES_PER_KIND = 5;
/** In the quiet mode, a progress line every this many trials of one kind. */
const PROGRESS_EVERY = 25;

/** How many trials of `kind` the options ask for. */
export function trialCount(kind: TrialKindName, options: SuiteOptions): number {
  if (options.trial !== undefined) return 1;
  if (kind === 'agent-kill' && options.agentKillTrials !== undefined) return options.agentKillTrials;
  return TRIAL_KINDS[kind].counts[options.mode];
}

/** The indices of the trials of `kind` to run (each index fixes the trial's seed). */
function trialIndices(kind: TrialKindName, options: SuiteOptions): number[] {
  if (options.trial !== undefined) return [options.trial];
  return Array.from({ length: trialCount(kind, options) }, (_, i) => i);
}

/**
 * Runs every trial the options ask for, appending each finished trial's record to `records`
 * (the caller's: an interrupted run reports what finished). The groups of kinds (see
 * `TrialKind.group`) run at the same time, the kinds of a group one after another, each trial
 * on its own stores and proxy. A trial that throws is recorded as failed, and the suite goes
 * on.
 */
export async function runSuite(
  env: SuiteEnv,
  options: SuiteOptions,
  out: (line: string) => void,
  records: TrialRecord[] = [],
): Promise<TrialRecord[]> {
  const groups = new Map<string, TrialKindName[]>();
  for (const kind of options.kinds) {
    const group = TRIAL_KINDS[kind].group;
    groups.set(group, [...(groups.get(group) ?? []), kind]);
  }
  await Promise.all(
    [...groups.values()].map(async (kinds) => {
      for (const kind of kinds) await runKind(env, kind, options, records, out);
    }),
  );
  return records;
}

async function runKind(
  env: SuiteEnv,
  kind: TrialKindName,
  options: SuiteOptions,
  records: TrialRecord[],
  out: (line: string) => void,
): Promise<void> {
  const queue = trialIndices(kind, options);
  const count = queue.length;
  const started = Date.now();
  let done = 0;
  let failed = 0;
  let skipped = 0;
  const stream = async () => {
    const runner = TRIAL_KINDS[kind].create(env);
    try {
      for (let index = queue.shift(); index !== undefined; index = queue.shift()) {
        if (failed >= MAX_FAILURES_PER_KIND) {
          skipped += 1;
          continue;
        }
        const record = await runTrial(env, runner, kind, index, options.seed);
        records.push(record);
        done += 1;
        if (record.problems.length > 0) {
          failed += 1;
          out(failureDetails(record, options.seed));
        } else if (options.verbose) out(trialLine(record));
        else if (done % PROGRESS_EVERY === 0 && done < count)
          out(`  ${kind}: ${done}/${count} trials, ${failed} failed`);
      }
    } finally {
      await runner.close();
    }
  };
  const streams = Math.max(1, Math.min(count, TRIAL_KINDS[kind].streams ?? 1));
  await Promise.all(Array.from({ length: streams }, stream));
  const seconds = ((Date.now() - started) / 1000).toFixed(0);
  out(`${kind}: ${done} trials, ${failed} failed (${seconds} s)`);
  if (skipped > 0) out(`${kind}: stopped after ${failed} failed trials; ${skipped} not run`);
}

/** Runs one trial; a trial that throws is a failed trial, never the end of the suite. */
async function runTrial(
  env: SuiteEnv,
  runner: TrialRunner,
  kind: TrialKindName,
  index: number,
  runSeed: number,
): Promise<TrialRecord> {
  const seed = trialSeed(runSeed, kind, index);
  const faults: string[] = [];
  const notes: string[] = [];
  const t0 = Date.now();
  let outcome: TrialOutcome;
  try {
    outcome = await runner.run({ env, prng: new Prng(seed), seed, index, faults, notes });
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    outcome = { tally: NO_TALLY, problems: [`trial aborted: ${message}`] };
  }
  return {
    kind,
    index,
    seed,
    faults,
    notes,
    tally: outcome.tally,
    problems: outcome.problems,
    evidence: outcome.evidence ?? [],
    ms: Date.now() - t0,
  };
}
