import { ratio } from '../lib/measure.js';
import { machine, table } from '../lib/report.js';
import type { Benchmark } from '../lib/types.js';
import { measureAggregate } from './aggregate.js';
import { cnnCostSection } from './cnn-cost.js';
import { cnnParams } from './cnn-params.js';
import { compressionSection } from './compression.js';
import { measureMcMahan } from './mcmahan.js';
import { mcmahanCnnSection } from './mcmahan-cnn.js';
import { measureSecAggMemory } from './secagg-memory.js';
import { measureTransport } from './transport.js';

const mb = (x: number) => `${x.toFixed(0)} MB`;
const pct = (x: number) => `${(100 * x).toFixed(2)}%`;

/**
 * `npm run bench -- federated`: FedAvg's streaming aggregation against a
 * tight Float32Array loop (ratio, peak memory), and McMahan et al. 2017's FedAvg-vs-FedSGD
 * rounds to a target accuracy on real MNIST, scaled down to minutes; between them, bytes per round against
 * accuracy per round for each uplink codec (int8, top-k, with and without error feedback).
 */
/**
 * The parts `--part=NAME` can pick. Without `--part` every part but `mcmahan-cnn` and
 * `cnn-cost` runs: the paper's CNN takes hours at full size (about 12 on 2 cores at its
 * caps), so it runs only when asked for, as does the pricing of that run (a few minutes).
 */
export const FEDERATED_PARTS = [
  'aggregation',
  'secagg',
  'transport',
  'compression',
  'mcmahan',
  'mcmahan-cnn',
  'cnn-cost',
] as const;
type Part = (typeof FEDERATED_PARTS)[number];

function positive(params: Readonly<Record<string, string>>, name: string, fallback: number): number {
  const raw = params[name];
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!(Number.isInteger(n) && n > 0))
    throw new RangeError(`federated bench: --${name} must be a positive integer, got ${JSON.stringify(raw)}`);
  return n;
}

function partsOf(params: Readonly<Record<string, string>>): Part[] {
  const raw = params.part;
  if (raw === undefined) return FEDERATED_PARTS.filter((p) => p !== 'mcmahan-cnn' && p !== 'cnn-cost');
  const parts = raw.split(',');
  for (const p of parts) {
    if (!(FEDERATED_PARTS as readonly string[]).includes(p))
      throw new RangeError(
        `federated bench: unknown --part ${JSON.stringify(p)}; parts: ${FEDERATED_PARTS.join(', ')}`,
      );
  }
  return parts as Part[];
}

async function aggregationSection(
  quick: boolean,
  params: Readonly<Record<string, string>>,
  progress: (l: string) => void,
) {
  const agg = await measureAggregate(
    positive(params, 'params', quick ? 1_000_000 : 10_000_000),
    positive(params, 'updates', quick ? 20 : 100),
    progress,
  );
  const modelMb = (agg.params * 4) / 1e6;
  return [
    `Aggregation: ${agg.updates} updates of ${agg.params.toLocaleString('en-US')} float32 parameters (${modelMb.toFixed(0)} MB each), weighted by examples:`,
    table(
      ['method', 'time', 'per update', 'vs loop', 'peak RSS +', 'peak heap+buffers +'],
      [
        [
          'Float32Array loop',
          `${(agg.baseline.ms / 1000).toFixed(2)} s`,
          `${(agg.baseline.ms / agg.updates).toFixed(1)} ms`,
          ratio(1),
          mb(agg.baseline.rssMb),
          mb(agg.baseline.liveMb),
        ],
        [
          'fedavg (validate + stream)',
          `${(agg.fedavg.ms / 1000).toFixed(2)} s`,
          `${(agg.fedavg.ms / agg.updates).toFixed(1)} ms`,
          ratio(agg.fedavg.ms / agg.baseline.ms),
          mb(agg.fedavg.rssMb),
          mb(agg.fedavg.liveMb),
        ],
      ],
    ),
    `max |fedavg − loop| = ${agg.maxDiff.toExponential(2)}; the update pool (4 × ${modelMb.toFixed(0)} MB) is allocated before both runs.`,
  ];
}

async function secaggSection(
  quick: boolean,
  params: Readonly<Record<string, string>>,
  progress: (l: string) => void,
) {
  const r = await measureSecAggMemory(
    positive(params, 'params', quick ? 250_000 : 1_000_000),
    positive(params, 'updates', quick ? 10 : 50),
    progress,
  );
  const row = (name: string, x: typeof r.kept) => [
    name,
    `${(x.ms / 1000).toFixed(2)} s`,
    `${(x.heldBytes / 1e6).toFixed(1)} MB`,
    mb(x.rssMb),
    mb(x.liveMb),
    mb(x.keptMb),
  ];
  return [
    `Secure round, hub side: ${r.devices} masked inputs of ${r.params.toLocaleString('en-US')} parameters (${(r.inputBytes / 1e6).toFixed(1)} MB each) taken from a SQLite store:`,
    table(
      ['method', 'time', 'masked data held', 'peak RSS +', 'peak heap+buffers +', 'live after GC +'],
      [row('every input kept until the sum', r.kept), row('running sum (takeMaskedInput)', r.running)],
    ),
    `The running sum holds one input's size however many devices mask. Sampled after each input: the peak (with garbage not yet collected), then the largest growth live after a full GC (the times include those GCs).`,
  ];
}

async function transportSection(
  quick: boolean,
  params: Readonly<Record<string, string>>,
  progress: (l: string) => void,
) {
  const r = await measureTransport(positive(params, 'params', quick ? 1_000_000 : 5_000_000), progress);
  const mbps = (ms: number) => `${(r.bytes / 1e6 / (ms / 1000)).toFixed(0)} MB/s`;
  return [
    `Weights as artifacts over loopback (real hub on SQLite, uncapped): a global model and an update of ${r.params.toLocaleString('en-US')} float32 parameters (${(r.bytes / 1e6).toFixed(1)} MB each):`,
    table(
      ['step', 'time', 'rate'],
      [
        [
          'download (GET /v1/artifacts, verified)',
          `${(r.downloadMs / 1000).toFixed(2)} s`,
          mbps(r.downloadMs),
        ],
        ['upload (1 MiB PATCH parts)', `${(r.uploadMs / 1000).toFixed(2)} s`, mbps(r.uploadMs)],
      ],
    ),
    `An upload cut with ${r.cut.partsHeld} of ${r.cut.parts} parts held: ${(r.cut.resentBytes / 1e6).toFixed(1)} MB sent after the cut for ${(r.cut.missingBytes / 1e6).toFixed(1)} MB missing (the part in flight is sent again), finished in ${(r.cut.finishMs / 1000).toFixed(2)} s.`,
  ];
}

async function mcmahanSection(quick: boolean, progress: (l: string) => void) {
  const settings = quick
    ? {
        target: 0.8,
        clients: 100,
        hidden: [64],
        fedavgRounds: 10,
        fedsgdRounds: 100,
        fedavgLr: 0.1,
        fedsgdLr: 0.5,
        seed: 1,
      }
    : {
        target: 0.9,
        clients: 100,
        hidden: [200],
        fedavgRounds: 30,
        fedsgdRounds: 600,
        fedavgLr: 0.1,
        fedsgdLr: 0.5,
        seed: 1,
      };
  const mc = await measureMcMahan(settings, progress);
  const reached = (r: number | null, cap: number) => (r === null ? `not in ${cap}` : String(r));
  const avgR = mc.fedavg.roundsToTarget;
  const sgdR = mc.fedsgd.roundsToTarget;
  const speedup =
    avgR !== null
      ? sgdR !== null
        ? `${(sgdR / avgR).toFixed(1)}×`
        : `> ${(settings.fedsgdRounds / avgR).toFixed(1)}×`
      : 'n/a';
  const last = (r: typeof mc.fedavg) => r.rounds[r.rounds.length - 1]?.accuracy ?? Number.NaN;
  return [
    `McMahan et al. 2017 on real MNIST (IID, K=${settings.clients}, C=0.1, MLP 784-${settings.hidden.join('-')}-10, 7 000 train / 1 500 test digits), rounds to ${pct(mc.target)}:`,
    table(
      ['method', 'E', 'B', 'lr', 'rounds to target', 'final accuracy', 'rounds run', 'time'],
      [
        [
          'FedAvg',
          '5',
          '10',
          String(settings.fedavgLr),
          reached(avgR, settings.fedavgRounds),
          pct(last(mc.fedavg)),
          String(mc.fedavg.rounds.length),
          `${mc.seconds.fedavg.toFixed(0)} s`,
        ],
        [
          'FedSGD',
          '1',
          'full',
          String(settings.fedsgdLr),
          reached(sgdR, settings.fedsgdRounds),
          pct(last(mc.fedsgd)),
          String(mc.fedsgd.rounds.length),
          `${mc.seconds.fedsgd.toFixed(0)} s`,
        ],
      ],
    ),
    `FedAvg needs ${speedup} fewer rounds (paper: 10–100× for its 2NN/CNN at 97–99% targets). TF.js backend: ${mc.fedavg.backend}.`,
  ];
}

/**
 * `npm run bench -- federated [--quick] [--part=aggregation,secagg,transport,compression,mcmahan,mcmahan-cnn,cnn-cost]
 * [--partition iid|noniid|both] [--target 0.97] [--processes N] [--data small|full] [--resume PATH]`,
 * the last five for the CNN parts:
 * FedAvg's streaming aggregation against a tight Float32Array loop (ratio, peak memory;
 * `--params=N` and `--updates=N` resize it), a secure round's hub memory taking `--updates`
 * masked inputs of `--params` parameters (running sum against every input kept), the global model's download and the update's
 * upload as artifacts (`--params=N`), and McMahan et al. 2017's FedAvg-vs-FedSGD rounds to a target
 * accuracy on real MNIST, scaled down to minutes; between them, bytes per round against
 * accuracy per round for each uplink codec (int8, top-k, with and without error feedback).
 */
export const federatedBenchmark: Benchmark = {
  description:
    'FedAvg over 100 × 10M-parameter updates vs a Float32Array loop; FedAvg vs FedSGD rounds to target on MNIST',
  async run({ quick, params = {}, progress }) {
    const parts = partsOf(params);
    // Checked before any part runs, so a bad value fails at once, not hours in.
    const cnn = cnnParams(params);
    const sections: string[][] = [];
    if (parts.includes('aggregation')) sections.push(await aggregationSection(quick, params, progress));
    if (parts.includes('secagg')) sections.push(await secaggSection(quick, params, progress));
    if (parts.includes('transport')) sections.push(await transportSection(quick, params, progress));
    if (parts.includes('compression')) sections.push(await compressionSection(quick, progress));
    if (parts.includes('mcmahan')) sections.push(await mcmahanSection(quick, progress));
    if (parts.includes('mcmahan-cnn')) sections.push(await mcmahanCnnSection(quick, cnn, progress));
    if (parts.includes('cnn-cost')) sections.push(await cnnCostSection(quick, cnn, progress));
    return [
      `federated benchmark${quick ? ' (--quick: small sizes, do not publish)' : ''} — ${machine()}`,
      ...sections.flatMap((s) => ['', ...s]),
    ].join('\n');
  },
};
