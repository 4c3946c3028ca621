import type { ConfigObject } from '../../shared/index.js';
import { formatSummary } from '../demo/report.js';
import { runDemo } from '../demo/run-demo.js';
import { CliError, EXIT } from '../exit-codes.js';

export const DEMO_HELP = `outpost demo [--json] [--agents N] [--events N] [--keep]

Starts a hub and N agents (default 3, each under its update launcher, as systemd runs it) as
separate processes on free ports with the embedded defaults (aedes broker, SQLite), enrolls
them, applies desired state, has each send events, kills one agent with SIGKILL mid-burst and
restarts it, updates the agents over the air (a broken release reverted by its canary's
launcher and rolled back, then a good one to the whole fleet), and checks that every event
the agents stored reached the hub exactly once. Exits 1 if any check fails.

  --json      print one JSON object instead of the timeline and summary
  --agents N  number of agents (1-20, default 3)
  --events N  events each agent's application sends (10-100000, default 200)
  --keep      keep the work directory (databases and logs) and print its path

Examples:
  outpost demo
  outpost demo --agents 5 --events 1000 --json > demo.json`;

function intFlag(flags: ConfigObject, name: string, fallback: number, min: number, max: number): number {
  const raw = flags[name];
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new CliError(`--${name} must be an integer from ${min} to ${max}, got ${String(raw)}`, EXIT.USAGE);
  }
  return value;
}

/** `outpost demo`. */
export async function runDemoCommand(flags: ConfigObject): Promise<void> {
  const json = flags.json === true;
  const report = await runDemo({
    agents: intFlag(flags, 'agents', 3, 1, 20),
    eventsPerAgent: intFlag(flags, 'events', 200, 10, 100_000),
    keep: flags.keep === true,
    progress: json ? () => undefined : (line) => console.log(line),
  });
  if (json) console.log(JSON.stringify(report));
  else {
    console.log(formatSummary(report));
    if (flags.keep === true) console.log(`work directory kept: ${report.workDir}`);
  }
  if (!report.ok) process.exitCode = EXIT.FAILED;
}
