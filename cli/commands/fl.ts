import { type RoundReport, SimulateOptionsSchema, simulate } from '../../federated/index.js';
import { type ConfigObject, isOutpostError } from '../../shared/index.js';
import { CliError, EXIT } from '../exit-codes.js';
import { table } from '../format.js';
import { createProgress, type ProgressStream } from '../progress.js';
import { FL_TASKS_HELP, runFlTasksCommand } from './fl-tasks.js';

export const FL_HELP = `outpost fl simulate [--dataset mnist] [--clients 100] [--fraction 0.1] [--epochs 5]
                   [--batch 10] [--lr 0.1] [--partition iid|noniid] [--strategy fedavg]
                   [--strategy-params JSON] [--rounds 20] [--target-accuracy 0.9]
                   [--stop-at-target] [--model mlp|cnn] [--hidden 200[,200]] [--filters 32,64]
                   [--dense 512] [--train-per-class 700] [--seed 1] [--json]

Federated learning simulated in this process with the same trainer and
aggregation code as devices and hub, on real MNIST digits from the mnist package (7 000
training digits dealt to the clients, 1 500 held out). Each round a seeded sample of
clients trains locally (E epochs, batch B; --batch 0 = full batch, i.e. FedSGD with
--epochs 1) and the strategy (fedavg, fedprox, fedadam, fedyogi, fedmedian, trimmed-mean,
krum) aggregates their deltas. --partition noniid is McMahan et al.'s: sorted by label,
2 shards per client. --model mlp (default) is a Dense stack of --hidden widths;
--model cnn is McMahan et al.'s CNN: 5×5 convolutions of --filters channels, each followed
by 2×2 max pooling, then a --dense ReLU layer. Prints the held-out accuracy per round and the first round that
reaches --target-accuracy; the same --seed gives the same output. A run whose local
training gives a non-finite weight (too large an --lr) stops in that round and says so.
Progress goes to stderr, results to stdout.

Examples:
  outpost fl simulate --clients 100 --fraction 0.1 --epochs 5 --batch 10 --rounds 20 --target-accuracy 0.9
  outpost fl simulate --partition noniid --strategy fedprox --strategy-params '{"mu":0.01}' --json
  outpost fl simulate --model cnn --epochs 5 --batch 10 --lr 0.2 --rounds 25 --target-accuracy 0.95 --stop-at-target

${FL_TASKS_HELP}`;

const FLAG_NAMES = new Set([...Object.keys(SimulateOptionsSchema.shape), 'json', 'help']);

function optionsFrom(flags: ConfigObject): Record<string, unknown> {
  const unknown = Object.keys(flags).filter((k) => !FLAG_NAMES.has(k));
  if (unknown.length > 0)
    throw new CliError(
      `fl simulate: unknown option(s) ${unknown.map((k) => `--${k}`).join(', ')}\n\n${FL_HELP}`,
      EXIT.USAGE,
    );
  const { json: _json, help: _help, hidden, filters, strategyParams, stopAtTarget, ...rest } = flags;
  const out: Record<string, unknown> = { ...rest };
  if (hidden !== undefined) out.hidden = String(hidden).split(',').map(Number);
  if (filters !== undefined) out.filters = String(filters).split(',').map(Number);
  if (stopAtTarget !== undefined) out.stopAtTarget = stopAtTarget === true || stopAtTarget === 'true';
  if (strategyParams !== undefined) {
    try {
      out.strategyParams = JSON.parse(String(strategyParams));
    } catch (err) {
      throw new CliError(`--strategy-params is not JSON: ${(err as Error).message}`, EXIT.USAGE);
    }
  }
  return out;
}

const pct = (x: number) => `${(100 * x).toFixed(2)}%`;

/**
 * Round progress of `fl simulate` on `stream`: on a TTY a round counter bar
 * (`simulate [###---] 3/20 acc 91.20%`) redrawn in place and cleared at the end; otherwise
 * (a pipe, a log file) one line per round, as before. `totalRounds` is the --rounds in force
 * (the run may stop earlier with --stop-at-target). `bar: false` (used with --json) keeps the
 * per-round lines even on a TTY.
 */
export function simulateProgress(
  totalRounds: number,
  stream: ProgressStream = process.stderr,
  bar = stream.isTTY === true,
  started = Date.now(),
): { onRound: (r: RoundReport) => void; finish: () => void } {
  if (!bar) {
    return {
      onRound: (r) =>
        stream.write(
          `round ${r.round}: accuracy ${pct(r.accuracy)}, loss ${r.loss.toFixed(4)}, ${r.clients} clients (${((Date.now() - started) / 1000).toFixed(1)} s)\n`,
        ),
      finish: () => undefined,
    };
  }
  const progress = createProgress('simulate', { stream, unit: 'count', enabled: true });
  progress.update(0, totalRounds);
  return {
    onRound: (r) => progress.update(r.round, totalRounds, `acc ${pct(r.accuracy)}`),
    finish: () => progress.finish(),
  };
}

/** `outpost fl simulate …` (other `fl` subcommands live in their own files). */
export async function runFlCommand(positionals: string[], flags: ConfigObject): Promise<void> {
  const [sub] = positionals;
  if (sub === 'start' || sub === 'status' || sub === 'stop')
    return runFlTasksCommand(sub, positionals.slice(1), flags);
  if (sub !== 'simulate')
    throw new CliError(`fl: unknown subcommand ${JSON.stringify(sub ?? '')}\n\n${FL_HELP}`, EXIT.USAGE);
  const options = optionsFrom(flags);
  const parsed = SimulateOptionsSchema.safeParse(options);
  const progress = simulateProgress(
    parsed.success ? parsed.data.rounds : 0,
    process.stderr,
    process.stderr.isTTY === true && flags.json !== true,
  );
  let report: Awaited<ReturnType<typeof simulate>>;
  try {
    report = await simulate(options, { onRound: progress.onRound });
    progress.finish();
  } catch (err) {
    progress.finish();
    if (isOutpostError(err) && err.code === 'FL_BAD_PARAMS')
      throw new CliError(`fl simulate: ${err.message}`, EXIT.USAGE);
    throw err;
  }
  if (flags.json === true) {
    console.log(JSON.stringify(report, null, 2));
    return;
  }
  const o = report.options;
  console.log(
    `MNIST ${o.partition}, ${o.clients} clients, C=${o.fraction}, E=${o.epochs}, B=${o.batch === 0 ? 'full' : o.batch}, lr=${o.lr}, ${o.strategy}, seed ${o.seed}, ${o.model === 'cnn' ? `CNN conv ${o.filters.join('/')} + Dense ${o.dense}` : `MLP ${o.hidden.join('-')}`} (TF.js ${report.backend})`,
  );
  console.log(`initial accuracy ${pct(report.initialAccuracy)}`);
  console.log(
    table(
      ['round', 'accuracy', 'loss', 'clients'],
      report.rounds.map((r) => [String(r.round), pct(r.accuracy), r.loss.toFixed(4), String(r.clients)]),
    ),
  );
  if (report.divergedAt !== null)
    console.log(
      `diverged: local training gave a non-finite weight in round ${report.divergedAt}, so the run stopped there (try a smaller --lr)`,
    );
  console.log(
    report.roundsToTarget === null
      ? `target ${pct(o.targetAccuracy)} not reached in ${report.rounds.length} rounds`
      : `target ${pct(o.targetAccuracy)} reached at round ${report.roundsToTarget}`,
  );
}
