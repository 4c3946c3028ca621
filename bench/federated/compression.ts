import { loadMnistSplit, type SimulationReport, simulate } from '../../federated/index.js';
import { table } from '../lib/report.js';

/** One compression setting of the uplink. */
interface Codec {
  label: string;
  compression: 'none' | 'int8' | 'topk';
  topkFraction?: number;
  errorFeedback: boolean;
}

const CODECS: Codec[] = [
  { label: 'float32', compression: 'none', errorFeedback: false },
  { label: 'int8', compression: 'int8', errorFeedback: false },
  { label: 'int8 + EF', compression: 'int8', errorFeedback: true },
  { label: 'top-1% ', compression: 'topk', topkFraction: 0.01, errorFeedback: false },
  { label: 'top-1% + EF', compression: 'topk', topkFraction: 0.01, errorFeedback: true },
  { label: 'top-10% + EF', compression: 'topk', topkFraction: 0.1, errorFeedback: true },
];

/**
 * Bytes per round against accuracy per round for each uplink codec: the same simulated
 * FedAvg run (same seed, clients, data) with each client's update sent through the device's
 * wire codec, with and without error feedback. Quick: 10 clients, half of them each round (so residuals
 * are reused), 5 rounds, 1 000 digits.
 */
export async function compressionSection(quick: boolean, progress: (l: string) => void): Promise<string[]> {
  const size = quick
    ? { clients: 10, fraction: 0.5, rounds: 5, trainPerClass: 100, hidden: [32] }
    : { clients: 100, fraction: 0.1, rounds: 20, trainPerClass: 700, hidden: [200] };
  const data = loadMnistSplit(size.trainPerClass);
  const runs: Array<{ codec: Codec; report: SimulationReport }> = [];
  for (const codec of CODECS) {
    progress(`compression: ${codec.label.trim()}`);
    const report = await simulate(
      {
        ...size,
        epochs: 1,
        batch: 10,
        lr: 0.1,
        seed: 1,
        compression: codec.compression,
        ...(codec.topkFraction !== undefined ? { topkFraction: codec.topkFraction } : {}),
        errorFeedback: codec.errorFeedback,
      },
      { data },
    );
    runs.push({ codec, report });
  }
  const rounds = size.rounds;
  const kb = (b: number) => `${(b / 1024).toFixed(1)} KiB`;
  const headers = ['codec', 'uplink / round', ...Array.from({ length: rounds }, (_, i) => `r${i + 1}`)];
  const rows = runs.map(({ codec, report }) => {
    const perRound = report.rounds.reduce((s, r) => s + r.bytes, 0) / report.rounds.length;
    return [
      codec.label.trim(),
      kb(perRound),
      ...report.rounds.map((r) => `${(100 * r.accuracy).toFixed(1)}%`),
    ];
  });
  return [
    `Uplink compression (FedAvg, MLP 784-${size.hidden.join('-')}-10, K=${size.clients}, C=${size.fraction}, E=1, B=10, ${size.trainPerClass * 10} train digits; EF = error feedback): bytes sent per round by all chosen clients, held-out accuracy after each round:`,
    table(headers, rows),
  ];
}
