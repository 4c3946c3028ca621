/**
 * The fault-injection suite: `npm run test:faults [-- options]`. Runs
 * trials of every kind in `trials/registry.ts` against a real hub process and real agent
 * processes, checks the invariant after every trial, prints a table, and exits 1 on any
 * violation with the seed that replays the run. The last line reads
 * `faults: N passed, M failed`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SuiteEnv } from './suite/env.js';
import { parseOptions, type SuiteOptions } from './suite/options.js';
import { summaryTable, type TrialRecord } from './suite/report.js';
import { runSuite, trialCount } from './suite/run-suite.js';
import { selfCheck } from './suite/self-check.js';

function options(): SuiteOptions {
  try {
    return parseOptions(process.argv.slice(2), process.env);
  } catch (err) {
    console.error((err as Error).message);
    process.exit(2);
  }
}

async function main(): Promise<number> {
  const opts = options();
  const workDir = mkdtempSync(join(tmpdir(), 'outpost-faults-'));
  const plan = opts.kinds.map((k) => `${k} ${trialCount(k, opts)}`).join(', ');
  console.log(`faults: ${opts.mode} size, seed ${opts.seed}, work dir ${workDir}`);
  console.log(`faults: trials ${plan}`);
  const started = Date.now();
  const env = await SuiteEnv.start(workDir);
  const records: TrialRecord[] = [];
  const stop = () => {
    env.killNow();
    // What finished is reported: a long run stopped early still says what it checked.
    const failed = records.filter((r) => r.problems.length > 0).length;
    console.log('');
    console.log(summaryTable(records, opts.kinds));
    console.log('');
    console.log(
      `faults: interrupted after ${((Date.now() - started) / 1000).toFixed(0)} s, seed ${opts.seed}`,
    );
    console.log(`faults: work dir kept: ${workDir}`);
    console.log(
      `faults: ${records.length - failed} passed, ${failed} failed, the rest not run (interrupted)`,
    );
    process.exit(130);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  let control: string[];
  try {
    control = await selfCheck(env);
    if (control.length === 0)
      console.log('faults: control: the checker passes a sound delivery and reports tampered ones');
    else for (const problem of control) console.log(`faults: CONTROL FAILED: ${problem}`);
    await runSuite(env, opts, (line) => console.log(line), records);
  } finally {
    await env.close();
  }
  const trialsFailed = records.filter((r) => r.problems.length > 0).length;
  // A control that failed counts as one failure: the trials' verdicts cannot be trusted.
  const failed = trialsFailed + (control.length > 0 ? 1 : 0);
  console.log('');
  console.log(summaryTable(records, opts.kinds));
  console.log('');
  console.log(`faults: ${((Date.now() - started) / 1000).toFixed(0)} s, seed ${opts.seed}`);
  if (failed === 0 && !opts.keep) rmSync(workDir, { recursive: true, force: true });
  else console.log(`faults: work dir kept: ${workDir}`);
  if (failed > 0) console.log(`faults: replay with: npm run test:faults -- --seed ${opts.seed}`);
  console.log(`faults: ${records.length - trialsFailed} passed, ${failed} failed`);
  return failed === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error('faults: the suite itself failed:', err);
    console.log('faults: 0 passed, 1 failed');
    process.exit(1);
  },
);
