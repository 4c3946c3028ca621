import { loadMnistSplit, type MnistSplit, simulate } from '../../federated/index.js';
import { table } from '../lib/report.js';
import { measureCnnStep } from './cnn-step.js';

/** One size of the CNN comparison. */
export interface CnnSettings {
  clients: number;
  fraction: number;
  trainPerClass: number;
  testPerClass: number;
  filters: number[];
  dense: number;
  target: number;
  seeds: number[];
  fedavgLrs: number[];
  fedsgdLrs: number[];
  fedavgRounds: number;
  fedsgdRounds: number;
}

/** The paper's setting on the `mnist` package's digits (about 1/6 of MNIST's 60 000). */
export const FULL: CnnSettings = {
  clients: 100,
  fraction: 0.1,
  trainPerClass: 700,
  testPerClass: 150,
  filters: [32, 64],
  dense: 512,
  target: 0.97,
  seeds: [1, 2, 3],
  fedavgLrs: [0.02, 0.05, 0.1, 0.2],
  fedsgdLrs: [0.1, 0.2, 0.5, 1.0],
  fedavgRounds: 100,
  fedsgdRounds: 1000,
};

/** Tiny: shows the machinery end to end in minutes on a shared CPU; its figures mean nothing. */
export const QUICK: CnnSettings = {
  clients: 10,
  fraction: 0.2,
  trainPerClass: 10,
  testPerClass: 10,
  filters: [4, 8],
  dense: 32,
  target: 0.2,
  // One seed and a one-value FedSGD grid: the smoke test's cost (the test suite runs it).
  seeds: [1],
  fedavgLrs: [0.05, 0.1],
  fedsgdLrs: [0.2],
  fedavgRounds: 3,
  fedsgdRounds: 6,
};

interface Method {
  name: 'FedAvg' | 'FedSGD';
  epochs: number;
  batch: number;
  lrs: number[];
  cap: number;
}

/** Rounds to target per seed for one method and lr (null: not within the cap). */
async function roundsPerSeed(
  s: CnnSettings,
  data: MnistSplit,
  partition: 'iid' | 'noniid',
  m: Method,
  lr: number,
) {
  const out: Array<number | null> = [];
  for (const seed of s.seeds) {
    const r = await simulate(
      {
        model: 'cnn',
        filters: s.filters,
        dense: s.dense,
        clients: s.clients,
        fraction: s.fraction,
        partition,
        epochs: m.epochs,
        batch: m.batch,
        lr,
        rounds: m.cap,
        targetAccuracy: s.target,
        stopAtTarget: true,
        trainPerClass: s.trainPerClass,
        seed,
      },
      { data },
    );
    out.push(r.roundsToTarget);
  }
  return out;
}

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

/**
 * McMahan et al. 2017's CNN experiment: FedSGD (E=1, B=∞) against FedAvg (E=5, B=10), each
 * with its learning rate picked from a grid (the one with the fewest mean rounds to the
 * target), over several seeds, IID and pathological non-IID (2 shards of one digit each per
 * client). Also measures one full-size training step so the full run's cost can be estimated.
 */
export async function mcmahanCnnSection(quick: boolean, progress: (l: string) => void): Promise<string[]> {
  const s = quick ? QUICK : FULL;
  const data = loadMnistSplit(s.trainPerClass, s.testPerClass);
  const methods: Method[] = [
    { name: 'FedSGD', epochs: 1, batch: 0, lrs: s.fedsgdLrs, cap: s.fedsgdRounds },
    { name: 'FedAvg', epochs: 5, batch: 10, lrs: s.fedavgLrs, cap: s.fedavgRounds },
  ];
  const rows: string[][] = [];
  for (const partition of ['iid', 'noniid'] as const) {
    const best: Record<string, { mean: number; missed: boolean }> = {};
    for (const m of methods) {
      let chosen: { lr: number; rounds: Array<number | null> } | undefined;
      for (const lr of m.lrs) {
        progress(`CNN ${partition} ${m.name} lr ${lr}`);
        const rounds = await roundsPerSeed(s, data, partition, m, lr);
        if (chosen === undefined || meanOf(rounds, m.cap) < meanOf(chosen.rounds, m.cap))
          chosen = { lr, rounds };
      }
      const c = chosen as { lr: number; rounds: Array<number | null> };
      const reached = c.rounds.filter((r): r is number => r !== null);
      const mean = meanOf(c.rounds, m.cap);
      const missed = c.rounds.length - reached.length;
      best[m.name] = { mean, missed: missed > 0 };
      rows.push([
        partition === 'iid' ? 'IID' : 'non-IID (2 shards)',
        m.name,
        String(m.epochs),
        m.batch === 0 ? '∞' : String(m.batch),
        String(c.lr),
        `${missed > 0 ? '≥ ' : ''}${mean.toFixed(1)}`,
        reached.length > 0 ? String(Math.min(...reached)) : '-',
        missed > 0 ? `> ${m.cap}` : String(Math.max(...reached)),
        m.name === 'FedAvg' ? ratioOf(best.FedSGD, { mean, missed: missed > 0 }) : '',
      ]);
    }
  }
  // One full-size training step (the paper's CNN, batch 10); `--part=cnn-cost` prices the full run.
  const step = await measureCnnStep(quick ? 1 : 5);
  return [
    `McMahan et al. 2017's CNN (5×5 conv ${s.filters.join('/')} + 2×2 max pool each, Dense ${s.dense}, softmax) on the mnist package's digits (${s.trainPerClass * 10} train / ${s.testPerClass * 10} test), K=${s.clients}, C=${s.fraction}, seeds ${s.seeds.join(', ')}: rounds to ${(100 * s.target).toFixed(0)}% test accuracy (mean, min, max over seeds; a seed that missed counts as the cap and makes the mean a lower bound), lr = the grid value with the fewest mean rounds:`,
    table(['data', 'method', 'E', 'B', 'lr', 'rounds (mean)', 'min', 'max', 'FedSGD / FedAvg'], rows),
    `Full-size CNN training step (batch 10, ${step.backend}): ${(step.ms / 1000).toFixed(3)} s on this machine.`,
  ];
}
