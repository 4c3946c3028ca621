import type { Tally } from '../check/invariant.js';
import { Prng, trialSeed } from '../prng.js';
import { TRIAL_KINDS, type TrialKindName } from '../trials/registry.js';
import type { TrialOutcome, TrialRunner } from '../trials/types.js';
import type { SuiteEnv } from './env.js';
import type { SuiteOptions } from './options.js';
import { failureDetails, type TrialRecord, trialLine } from './report.js';

const NO_TALLY: Tally = { sent: 0, ingested: 0, dropped: 0, duplicates: 0, lost: 0 };
/** In the quiet mode, a progress line every this many trials of one kind. */
const PROGRESS_EVERY = 25;

/** How many trials of `kind` the options ask for. */
export function trialCount(kind: TrialKindName, options: SuiteOptions): number {
  if (kind === 'agent-kill' && options.agentKillTrials !== undefined) return options.agentKillTrials;
  return TRIAL_KINDS[kind].counts[options.mode];
}

/**
 * Runs every trial the options ask for and returns their records. The kinds that leave the
 * hub alone run concurrently in two streams (agent kills; the other kinds one after the
 * other), each trial on its own stores and proxy; the kinds that restart the hub run alone
 * afterwards. A trial that throws is recorded as failed, and the suite goes on.
 */
export async function runSuite(
  env: SuiteEnv,
  options: SuiteOptions,
  out: (line: string) => void,
): Promise<TrialRecord[]> {
  const records: TrialRecord[] = [];
  const shared = options.kinds.filter((k) => !TRIAL_KINDS[k].exclusive);
  const exclusive = options.kinds.filter((k) => TRIAL_KINDS[k].exclusive);
  const streams = [shared.filter((k) => k === 'agent-kill'), shared.filter((k) => k !== 'agent-kill')];
  await Promise.all(
    streams.map(async (kinds) => {
      for (const kind of kinds) await runKind(env, kind, options, records, out);
    }),
  );
  for (const kind of exclusive) await runKind(env, kind, options, records, out);
  return records;
}

async function runKind(
  env: SuiteEnv,
  kind: TrialKindName,
  options: SuiteOptions,
  records: TrialRecord[],
  out: (line: string) => void,
): Promise<void> {
  const count = trialCount(kind, options);
  const started = Date.now();
  let next = 0;
  let done = 0;
  let failed = 0;
  const stream = async () => {
    const runner = TRIAL_KINDS[kind].create(env);
    try {
      for (let index = next++; index < count; index = next++) {
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
  out(`${kind}: ${count} trials, ${failed} failed (${((Date.now() - started) / 1000).toFixed(0)} s)`);
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
