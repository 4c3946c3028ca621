import { loadMnistSplit, type SimulationReport, simulate } from '../../federated/index.js';

/** FedAvg vs FedSGD rounds to a target accuracy (McMahan et al. 2017, Table 2/Figure 2, scaled down). */
export interface McMahanFigures {
  target: number;
  fedavg: SimulationReport;
  fedsgd: SimulationReport;
  seconds: { fedavg: number; fedsgd: number };
}

/** Settings of the comparison; docs/benchmarks.md says why each differs from the paper. */
export interface McMahanSettings {
  target: number;
  clients: number;
  hidden: number[];
  fedavgRounds: number;
  fedsgdRounds: number;
  fedavgLr: number;
  fedsgdLr: number;
  seed: number;
}

/**
 * Runs the same simulator twice on IID MNIST with C = 0.1: FedAvg (E = 5, B = 10) and FedSGD
 * (E = 1, full batch: one gradient step per client per round), each until it reaches the
 * target or its round cap.
 */
export async function measureMcMahan(
  s: McMahanSettings,
  progress: (l: string) => void,
): Promise<McMahanFigures> {
  const data = loadMnistSplit(700);
  const common = {
    clients: s.clients,
    fraction: 0.1,
    partition: 'iid' as const,
    hidden: s.hidden,
    targetAccuracy: s.target,
    stopAtTarget: true,
    seed: s.seed,
  };
  let t0 = Date.now();
  const fedavg = await simulate(
    { ...common, epochs: 5, batch: 10, lr: s.fedavgLr, rounds: s.fedavgRounds },
    { data, onRound: (r) => progress(`FedAvg round ${r.round}: ${(100 * r.accuracy).toFixed(2)}%`) },
  );
  const fedavgS = (Date.now() - t0) / 1000;
  t0 = Date.now();
  const fedsgd = await simulate(
    { ...common, epochs: 1, batch: 0, lr: s.fedsgdLr, rounds: s.fedsgdRounds },
    {
      data,
      onRound: (r) =>
        r.round % 25 === 0 && progress(`FedSGD round ${r.round}: ${(100 * r.accuracy).toFixed(2)}%`),
    },
  );
  return { target: s.target, fedavg, fedsgd, seconds: { fedavg: fedavgS, fedsgd: (Date.now() - t0) / 1000 } };
}
