import { buildMnistCnn, evaluate, simulate, subset, trainLocal } from '../../federated/index.js';
import { median } from '../lib/measure.js';
import { table } from '../lib/report.js';
import { cnnDigits, digitsLabel } from './cnn-data.js';
import { type CnnParams, overlappingRuns, processCount } from './cnn-params.js';
import { makespan } from './cnn-schedule.js';
import { cnnSettings } from './cnn-settings.js';
import { measureCnnStep } from './cnn-step.js';

/** Median wall time of `fn` over `repeats` calls, ms. */
async function medianMs(repeats: number, fn: () => Promise<unknown>): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const t0 = performance.now();
    await fn();
    times.push(performance.now() - t0);
  }
  return median(times);
}

const hours = (ms: number) => ms / 3_600_000;

/**
 * What `--part=mcmahan-cnn` costs at its full size, from this machine's timings of the pieces
 * of a round: one client's update for each method (on the default data a client holds
 * 7 000 / 100 = 70 digits: FedAvg E=5, B=10 is 35 steps, FedSGD E=1, B=∞ one step of 70; with
 * `--data full` 600 digits, 300 steps and one step of 600 as in the paper), the evaluation of the test
 * digits after each round, and (not with `--quick`) one whole simulated FedSGD round, whose
 * excess over its pieces is the aggregation and codec. Every run is priced at its round cap:
 * an upper bound, since runs stop at the target (and a cut grid value at the best's rounds).
 * `--partition` and `--processes` price the run those settings make.
 */
export async function cnnCostSection(
  quick: boolean,
  flags: CnnParams,
  progress: (l: string) => void,
): Promise<string[]> {
  // The full run's settings on the data asked for (`--quick` only shortens the timings).
  const s = cnnSettings(false, { data: flags.data, target: undefined });
  const repeats = quick ? 1 : 3;
  const data = cnnDigits(s);
  const share = Math.floor(data.train.count / s.clients);
  const client = subset(
    data.train,
    Array.from({ length: share }, (_, i) => i),
  );
  const model = buildMnistCnn(1, { filters: s.filters, dense: s.dense });
  progress('CNN cost: batch-10 step');
  const step = await measureCnnStep(quick ? 1 : 5);
  const train = (epochs: number, batchSize: number) => () =>
    trainLocal({ model, samples: client, lr: 0.05, epochs, batchSize, seed: 1 });
  progress('CNN cost: client updates');
  await train(1, Number.POSITIVE_INFINITY)(); // warm-up of the full-batch shapes
  const fedavgMs = await medianMs(repeats, train(5, 10));
  const fedsgdMs = await medianMs(repeats + 2, train(1, Number.POSITIVE_INFINITY));
  progress('CNN cost: evaluation');
  const evalMs = await medianMs(repeats, () => evaluate(model, data.test));
  const perRound = Math.max(1, Math.round(s.fraction * s.clients));
  let overheadMs = 0;
  if (!quick) {
    progress('CNN cost: one simulated FedSGD round');
    const options = {
      model: 'cnn' as const,
      filters: s.filters,
      dense: s.dense,
      clients: s.clients,
      fraction: s.fraction,
      epochs: 1,
      batch: 0,
      lr: 0.1,
      rounds: 1,
      seed: 1,
    };
    // One round: the initial evaluation, the clients, the aggregation, the round's evaluation.
    const roundMs = await medianMs(1, () => simulate(options, { data }));
    overheadMs = Math.max(0, roundMs - perRound * fedsgdMs - 2 * evalMs);
  }
  const round = {
    FedAvg: perRound * fedavgMs + evalMs + overheadMs,
    FedSGD: perRound * fedsgdMs + evalMs + overheadMs,
  };
  const partitions = flags.partitions.length;
  const methods = [
    { name: 'FedAvg' as const, lrs: s.fedavgLrs.length, cap: s.fedavgRounds },
    { name: 'FedSGD' as const, lrs: s.fedsgdLrs.length, cap: s.fedsgdRounds },
  ];
  const seeds = s.seeds.length;
  const priced = methods.map((m) => {
    const atCap = hours(round[m.name] * m.cap);
    // The former protocol ran every lr on every seed; this one runs the grid on the first
    // seed (a later value at most the best's rounds: the cap when none reaches the target),
    // then the other seeds at the chosen lr.
    return { m, atCap, every: partitions * m.lrs * seeds, protocol: partitions * (m.lrs + seeds - 1) };
  });
  const rows = priced.map(({ m, atCap, every, protocol }) => [
    m.name,
    `${(round[m.name] / 1000).toFixed(1)} s`,
    String(m.cap),
    `${atCap.toFixed(1)} h`,
    `${protocol} → ${(protocol * atCap).toFixed(0)} h`,
    `${every} → ${(every * atCap).toFixed(0)} h`,
  ]);
  const total = (runs: 'every' | 'protocol') => priced.reduce((a, p) => a + p[runs] * p.atCap, 0);
  const processes = processCount(flags.processes, overlappingRuns(partitions, methods.length, seeds));
  // The bench starts each partition's FedSGD, then its FedAvg; its pool takes runs as they come.
  const chains = flags.partitions.flatMap(() =>
    [...priced].reverse().map(({ m, atCap }) => ({
      grid: Array.from({ length: m.lrs }, () => atCap),
      seeds: Array.from({ length: seeds - 1 }, () => atCap),
    })),
  );
  const wall = makespan(chains, processes);
  const batch10PerSample = fedavgMs / (5 * share);
  const fullPerSample = fedsgdMs / share;
  return [
    `Cost of the full CNN comparison on ${digitsLabel(s)} (K=${s.clients}, C=${s.fraction}, ${share} digits per client, ${perRound} clients per round, ${seeds} seeds, ${flags.partitions.map((p) => (p === 'iid' ? 'IID' : 'non-IID')).join(' and ')}), from this machine's timings (${step.backend}, median):`,
    `batch-10 step ${(step.ms / 1000).toFixed(3)} s; one client's FedAvg update (E=5, B=10: ${(5 * share) / 10} steps) ${(fedavgMs / 1000).toFixed(2)} s = ${batch10PerSample.toFixed(2)} ms per sample; FedSGD update (E=1, one step of ${share}) ${(fedsgdMs / 1000).toFixed(3)} s = ${fullPerSample.toFixed(2)} ms per sample (${(fullPerSample / batch10PerSample).toFixed(2)}× batch 10's); evaluation of ${data.test.count} test digits ${(evalMs / 1000).toFixed(2)} s; aggregation and codec per round ${quick ? 'not measured (--quick)' : `${(overheadMs / 1000).toFixed(2)} s`}.`,
    table(
      [
        'method',
        'per round',
        'cap',
        'one run at cap',
        'runs: lr on seed 1, then the others',
        'runs: every lr on every seed',
      ],
      rows,
    ),
    `Upper bound at the caps: ${total('protocol').toFixed(0)} core-hours as the bench runs it (every lr on every seed: ${total('every').toFixed(0)}); in ${processes} worker process${processes === 1 ? '' : 'es'}, on as many free cores, about ${wall.toFixed(1)} h of wall time (a method's grid runs one value after another: each value's cut is the best's rounds before it). Runs stop at the target, so less.`,
  ];
}
