import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import type { CnnJob } from './cnn-job.js';
import { outcomeWithin, type RunAccuracies, type RunOutcome } from './cnn-protocol.js';

/** What determines a run's rounds: its job without the target and the round limit. */
type RunSettings = Omit<CnnJob, 'target' | 'rounds'>;

/** One finished run as the file keeps it (a JSON line). */
export interface RunRecord extends RunAccuracies {
  /** `cnnCodeFingerprint()` of the code that ran it. */
  code: string;
  settings: RunSettings;
  seconds: number;
}

const settingsOf = (job: CnnJob): RunSettings => {
  const { target: _target, rounds: _rounds, ...settings } = job;
  return settings;
};

/** The settings as a string that does not depend on the order of their fields. */
const keyOf = (code: string, s: RunSettings) =>
  JSON.stringify([code, Object.entries(s).sort(([a], [b]) => a.localeCompare(b))]);

/**
 * What a recorded run says of a job with the same settings: a run is deterministic, so its
 * accuracies are the job's for as many rounds as were recorded. It answers when it reached the
 * job's target within the job's rounds, or was recorded for at least that many rounds, or
 * diverged; otherwise (it stopped earlier, at a lower target or a shorter cut) it does not.
 */
export function outcomeFrom(r: RunAccuracies, target: number, rounds: number): RunOutcome | undefined {
  const outcome = outcomeWithin(r, target, rounds);
  const covers = outcome.roundsToTarget !== null || r.accuracies.length >= rounds || r.divergedAt !== null;
  // Not run again: no time of its own.
  return covers ? { ...outcome, seconds: 0 } : undefined;
}

/**
 * The runs of CNN comparisons kept in a file (`--resume PATH`), so that a comparison longer
 * than one sitting goes on where it stopped: each finished run is appended at once, and a run
 * already there for the same settings and the same code is answered from it, not run again.
 */
export class RunsFile {
  private readonly records = new Map<string, RunRecord[]>();

  constructor(
    readonly path: string,
    private readonly code: string,
  ) {
    if (!existsSync(path)) return;
    readFileSync(path, 'utf8')
      .split('\n')
      .forEach((line, i) => {
        if (line.trim() === '') return;
        let r: RunRecord;
        try {
          r = JSON.parse(line) as RunRecord;
        } catch (err) {
          throw new Error(`${path}:${i + 1}: not a recorded run (${(err as Error).message})`);
        }
        if (!Array.isArray(r.accuracies) || typeof r.settings !== 'object' || typeof r.code !== 'string')
          throw new Error(`${path}:${i + 1}: not a recorded run (no code, settings or accuracies)`);
        this.add(r);
      });
  }

  private add(r: RunRecord): void {
    const key = keyOf(r.code, r.settings);
    this.records.set(key, [...(this.records.get(key) ?? []), r]);
  }

  /** The job's outcome from a recorded run of this code, or undefined when none answers it. */
  lookup(job: CnnJob): RunOutcome | undefined {
    for (const r of this.records.get(keyOf(this.code, settingsOf(job))) ?? []) {
      const o = outcomeFrom(r, job.target, job.rounds);
      if (o !== undefined) return o;
    }
    return undefined;
  }

  /** Keeps a finished run (appended to the file before this returns). */
  record(job: CnnJob, o: RunOutcome): void {
    const r: RunRecord = {
      code: this.code,
      settings: settingsOf(job),
      initialAccuracy: o.initialAccuracy,
      accuracies: o.accuracies,
      divergedAt: o.divergedAt,
      seconds: o.seconds,
    };
    appendFileSync(this.path, `${JSON.stringify(r)}\n`);
    this.add(r);
  }
}
