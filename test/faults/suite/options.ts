import { randomInt } from 'node:crypto';
import { type TrialKindName, TrialKindSchema } from '../trials/registry.js';

/** How the suite runs (from flags and env; see {@link parseOptions}). */
export interface SuiteOptions {
  /** `ci` (the bounded size CI runs) or `long`. */
  mode: 'ci' | 'long';
  /** Master seed; every trial's seed derives from it and the trial's kind and index. */
  seed: number;
  /** The kinds to run, in table order. */
  kinds: TrialKindName[];
  /** Trials of `agent-kill` (default: the mode's count). */
  agentKillTrials: number | undefined;
  /** Keep the work directory (stores, hub data, logs) even when everything passed. */
  keep: boolean;
  /** One line per trial instead of a line per kind. */
  verbose: boolean;
  /** Run only this trial (its index) of the one kind selected: replays its plan on a fresh store. */
  trial: number | undefined;
}

export const USAGE = `npm run test:faults -- [--long] [--seed S] [--trials N] [--kinds a,b] [--trial I] [--keep] [--verbose]

  --long        the long mode (10,000 agent kills; more of every other kind)
  --seed S      replay a run: every random choice derives from S (printed at the start)
  --trials N    number of agent-kill trials (env FAULTS_TRIALS)
  --kinds a,b   run only these kinds
  --trial I     with one kind: run only its trial I (same seed: same plan, on a fresh store)
  --keep        keep the work directory (it is always kept when a trial fails)
  --verbose     a line per trial
Env: FAULTS_TRIALS, FAULTS_SEED, FAULTS_LONG=1.`;

function integer(flag: string, raw: string | true, min: number): number {
  const value = typeof raw === 'string' && /^\d+$/.test(raw) ? Number(raw) : Number.NaN;
  if (!Number.isSafeInteger(value) || value < min) {
    throw new Error(`${flag} must be an integer >= ${min}, got ${JSON.stringify(raw)}`);
  }
  return value;
}

function kind(name: string): TrialKindName {
  const parsed = TrialKindSchema.safeParse(name);
  if (!parsed.success) {
    throw new Error(
      `--kinds: unknown kind ${JSON.stringify(name)}; known: ${TrialKindSchema.options.join(', ')}`,
    );
  }
  return parsed.data;
}

/** Parses argv (after the script name) and env; throws with every problem named. */
export function parseOptions(argv: readonly string[], env: NodeJS.ProcessEnv): SuiteOptions {
  const flags = new Map<string, string | true>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (!arg.startsWith('--')) throw new Error(`unexpected argument ${JSON.stringify(arg)}\n\n${USAGE}`);
    const [name, inline] = arg.slice(2).split('=', 2) as [string, string | undefined];
    const takesValue = ['seed', 'trials', 'kinds', 'trial'].includes(name);
    if (!takesValue) flags.set(name, true);
    else {
      const value = inline ?? argv[++i];
      if (value === undefined) throw new Error(`--${name} needs a value\n\n${USAGE}`);
      flags.set(name, value);
    }
  }
  const known = ['long', 'seed', 'trials', 'kinds', 'trial', 'keep', 'verbose', 'help'];
  const unknown = [...flags.keys()].filter((f) => !known.includes(f));
  if (unknown.length > 0)
    throw new Error(`unknown option ${unknown.map((f) => `--${f}`).join(', ')}\n\n${USAGE}`);
  if (flags.has('help')) throw new Error(USAGE);

  const seedRaw = flags.get('seed') ?? env.FAULTS_SEED;
  const trialsRaw = flags.get('trials') ?? env.FAULTS_TRIALS;
  const kindsRaw = flags.get('kinds');
  const seed = seedRaw === undefined ? randomInt(2 ** 31) : integer('--seed', seedRaw, 0);
  const trials = trialsRaw === undefined ? undefined : integer('--trials', trialsRaw, 1);
  const kinds =
    typeof kindsRaw === 'string' ? kindsRaw.split(',').map((k) => kind(k.trim())) : TrialKindSchema.options;
  const trialRaw = flags.get('trial');
  const trial = trialRaw === undefined ? undefined : integer('--trial', trialRaw, 0);
  if (trial !== undefined && kinds.length !== 1)
    throw new Error('--trial needs exactly one kind: --kinds KIND');
  return {
    mode: flags.has('long') || env.FAULTS_LONG === '1' ? 'long' : 'ci',
    seed,
    kinds: TrialKindSchema.options.filter((k) => kinds.includes(k)),
    agentKillTrials: trials,
    keep: flags.has('keep'),
    verbose: flags.has('verbose') || trial !== undefined,
    trial,
  };
}
