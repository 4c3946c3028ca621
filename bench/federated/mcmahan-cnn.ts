import { table } from '../lib/report.js';
import { cnnCodeFingerprint } from './cnn-code.js';
import { digitsLabel } from './cnn-data.js';
import type { CnnJob } from './cnn-job.js';
import { type CnnParams, overlappingRuns, processCount } from './cnn-params.js';
import { CnnPool } from './cnn-pool.js';
import { EDGE_STEPS, gridCell, type ProtocolResult, type RunOutcome, runProtocol } from './cnn-protocol.js';
import { RunsFile } from './cnn-runs-file.js';
import { type CnnMethod, type CnnSettings, cnnMethods, cnnSettings, percent } from './cnn-settings.js';
import { measureCnnStep } from './cnn-step.js';

/** Mean over seeds, counting a run that missed the target as its cap (a lower bound then). */
const meanOf = (rounds: Array<number | null>, cap: number) =>
  rounds.reduce<number>((a, r) => a + (r ?? cap), 0) / rounds.length;

/** FedSGD's mean rounds over FedAvg's: a lower bound when only FedSGD missed, unknown when FedAvg missed. */
function ratioOf(
  sgd: { mean: number; missed: boolean } | undefined,
  avg: { mean: number; missed: boolean },
): string {
  if (sgd === undefined || avg.missed) return 'n/a';
  return `${sgd.missed ? '≥ ' : ''}${(sgd.mean / avg.mean).toFixed(1)}×`;
}

const label = (p: 'iid' | 'noniid') => (p === 'iid' ? 'IID' : 'non-IID (2 shards)');
const hoursOrMinutes = (s: number) =>
  s >= 3600 ? `${(s / 3600).toFixed(1)} h` : `${(s / 60).toFixed(1)} min`;

function jobOf(
  s: CnnSettings,
  partition: 'iid' | 'noniid',
  m: CnnMethod,
  lr: number,
  seed: number,
  rounds: number,
): CnnJob {
  return {
    partition,
    data: s.data,
    clients: s.clients,
    fraction: s.fraction,
    trainPerClass: s.trainPerClass,
    testPerClass: s.testPerClass,
    filters: s.filters,
    dense: s.dense,
    epochs: m.epochs,
    batch: m.batch,
    lr,
    seed,
    rounds,
    target: s.target,
  };
}

/**
 * McMahan et al. 2017's CNN experiment: FedSGD (E=1, B=∞) against FedAvg (E=5, B=10), IID and
 * pathological non-IID (2 shards of one digit each per client). Each method's lr is picked
 * from its grid on the first seed (see `runProtocol`), the other seeds run at it; the runs go
 * to worker processes, side by side where independent. Also measures one full-size training
 * step so the full run's cost can be estimated.
 */
export async function mcmahanCnnSection(
  quick: boolean,
  flags: CnnParams,
  progress: (l: string) => void,
): Promise<string[]> {
  const s = cnnSettings(quick, flags);
  const methods = cnnMethods(s);
  const chains = flags.partitions.flatMap((partition) => methods.map((m) => ({ partition, m })));
  const processes = processCount(
    flags.processes,
    overlappingRuns(flags.partitions.length, methods.length, s.seeds.length),
  );
  // Long runs say where they are every 25 rounds; the start and end of each run are said too.
  const pool = new CnnPool(processes, (job, round, accuracy) => {
    if (round % 25 === 0)
      progress(
        `CNN ${job.partition} E=${job.epochs} lr ${job.lr} seed ${job.seed}: round ${round}, ${percent(accuracy)}`,
      );
  });
  const recorded = flags.resume === undefined ? undefined : new RunsFile(flags.resume, cnnCodeFingerprint());
  let fromFile = 0;
  const t0 = performance.now();
  let results: ProtocolResult[];
  try {
    results = await Promise.all(
      chains.map(({ partition, m }) =>
        runProtocol(m.lrs, m.cap, s.seeds, async (lr, seed, rounds) => {
          const name = `CNN ${partition} ${m.name} lr ${lr} seed ${seed}`;
          const job = jobOf(s, partition, m, lr, seed, rounds);
          const kept = recorded?.lookup(job);
          let o: RunOutcome;
          if (kept !== undefined) {
            o = kept;
            fromFile++;
          } else {
            progress(`${name}: up to ${rounds} rounds`);
            o = await pool.run(job);
            recorded?.record(job, o);
          }
          const missed = o.divergedAt !== null ? `diverged at round ${o.divergedAt}` : `not in ${rounds}`;
          const how = kept !== undefined ? `from ${flags.resume}` : `${o.seconds.toFixed(0)} s`;
          progress(`${name}: ${o.roundsToTarget ?? missed} (${how})`);
          return o;
        }),
      ),
    );
  } finally {
    await pool.close();
  }
  const wall = (performance.now() - t0) / 1000;
  const rows: string[][] = [];
  const gridRows: string[][] = [];
  let sgd: { mean: number; missed: boolean } | undefined;
  chains.forEach(({ partition, m }, i) => {
    const r = results[i] as ProtocolResult;
    const reached = r.rounds.filter((x): x is number => x !== null);
    const missed = reached.length < r.rounds.length;
    const mean = meanOf(r.rounds, m.cap);
    if (m.name === 'FedSGD') sgd = { mean, missed };
    rows.push([
      label(partition),
      m.name,
      String(m.epochs),
      m.batch === 0 ? '∞' : String(m.batch),
      String(r.lr),
      `${missed ? '≥ ' : ''}${mean.toFixed(1)}`,
      reached.length > 0 ? String(Math.min(...reached)) : '-',
      missed ? `> ${m.cap}` : String(Math.max(...reached)),
      m.name === 'FedAvg' ? ratioOf(sgd, { mean, missed }) : '',
    ]);
    for (const g of r.grid)
      gridRows.push([
        label(partition),
        m.name,
        String(g.lr),
        gridCell(g, m.cap),
        `${(100 * g.outcome.bestAccuracy).toFixed(1)}%`,
        g.lr === r.lr ? 'chosen' : '',
      ]);
  });
  const runs = results.reduce((a, r) => a + r.grid.length + r.outcomes.length - 1, 0);
  const coreSeconds = results.reduce(
    (a, r) =>
      a + [...r.grid.map((g) => g.outcome), ...r.outcomes.slice(1)].reduce((b, o) => b + o.seconds, 0),
    0,
  );
  // One full-size training step (the paper's CNN, batch 10); `--part=cnn-cost` prices the full run.
  const step = await measureCnnStep(quick ? 1 : 5);
  const [first, ...rest] = s.seeds;
  return [
    `McMahan et al. 2017's CNN (5×5 conv ${s.filters.join('/')} + 2×2 max pool each, Dense ${s.dense}, softmax) on ${digitsLabel(s)}, K=${s.clients}, C=${s.fraction}, seeds ${s.seeds.join(', ')}: rounds to ${percent(s.target)} test accuracy at each method's chosen lr (mean, min, max over seeds; a seed that missed counts as the cap and makes the mean a lower bound):`,
    table(['data', 'method', 'E', 'B', 'lr', 'rounds (mean)', 'min', 'max', 'FedSGD / FedAvg'], rows),
    `The lr of each method is picked on seed ${first} alone: its grid runs in order, a value not at the target by the best value's rounds so far stops there ("(cut)": it can no longer be chosen; ties keep the earlier value), a best value at an end of the grid extends it past that end (×2 above, ÷2 below) while the new value wins, at most ${EDGE_STEPS} values, and the fewest rounds wins (none reaching the target: the highest accuracy within the cap among the values that did not diverge).${rest.length > 0 ? ` Seed${rest.length > 1 ? 's' : ''} ${rest.join(', ')} then run${rest.length > 1 ? '' : 's'} at the chosen lr only.` : ''} Seed ${first}'s grid:`,
    table(['data', 'method', 'lr', `rounds to ${percent(s.target)}`, 'best accuracy', ''], gridRows),
    `${runs} runs in ${processes} worker process${processes === 1 ? '' : 'es'}${fromFile > 0 ? ` (${fromFile} of them recorded in ${flags.resume}, not run again)` : ''}: ${hoursOrMinutes(coreSeconds)} of runs, ${hoursOrMinutes(wall)} wall.`,
    `Full-size CNN training step (batch 10, ${step.backend}): ${(step.ms / 1000).toFixed(3)} s on this machine.`,
  ];
}
