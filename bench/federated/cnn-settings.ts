import type { CnnData } from './cnn-data.js';

/** One size of the CNN comparison. */
export interface CnnSettings {
  /** Whose digits: the `mnist` package's (`small`) or MNIST's own 60 000 + 10 000 (`full`). */
  data: CnnData;
  clients: number;
  fraction: number;
  /** Training digits: this many of each class (`small`), or the first 10× this many (`full`). */
  trainPerClass: number;
  /** Test digits, likewise. */
  testPerClass: number;
  filters: number[];
  dense: number;
  target: number;
  /** The first seed picks each method's lr; the others run at the chosen lr only. */
  seeds: number[];
  /**
   * Each grid in the order it runs. A value runs only as long as the best before it took, so
   * the value expected best goes first and the others are cut early; the order changes the
   * choice only between values that tie (the earlier stays).
   */
  fedavgLrs: number[];
  fedsgdLrs: number[];
  fedavgRounds: number;
  fedsgdRounds: number;
}

/** The paper's setting on the `mnist` package's digits (about 1/6 of MNIST's 60 000). */
export const FULL: CnnSettings = {
  data: 'small',
  clients: 100,
  fraction: 0.1,
  trainPerClass: 700,
  testPerClass: 150,
  filters: [32, 64],
  dense: 512,
  target: 0.97,
  seeds: [1, 2, 3],
  fedavgLrs: [0.1, 0.05, 0.2, 0.02],
  fedsgdLrs: [0.2, 0.1, 0.5, 1.0],
  fedavgRounds: 100,
  fedsgdRounds: 1000,
};

/** Tiny: shows the machinery end to end in seconds on a shared CPU; its figures mean nothing. */
export const QUICK: CnnSettings = {
  data: 'small',
  clients: 10,
  fraction: 0.2,
  trainPerClass: 10,
  testPerClass: 10,
  filters: [4, 8],
  dense: 32,
  target: 0.2,
  // Two seeds (the second runs at the chosen lr only) and a one-value FedSGD grid: the smoke
  // test's cost (the test suite runs it).
  seeds: [1, 2],
  fedavgLrs: [0.05, 0.1],
  fedsgdLrs: [0.2],
  fedavgRounds: 3,
  fedsgdRounds: 6,
};

/**
 * The paper's own data (`--data full`): MNIST's 60 000 training digits, 600 per client as in
 * the paper, its 10 000 test digits, and the paper's 99% target. With `--quick` the first 100
 * of each file, so the smoke run stays seconds long.
 */
const FULL_DATA = { data: 'full', trainPerClass: 6000, testPerClass: 1000, target: 0.99 } as const;
const QUICK_FULL_DATA = { data: 'full', trainPerClass: 10, testPerClass: 10 } as const;

/** The settings a run uses: the size's own, on the data asked for, at the target asked for. */
export function cnnSettings(
  quick: boolean,
  flags: { data: CnnData; target: number | undefined },
): CnnSettings {
  const base = quick ? QUICK : FULL;
  const sized: CnnSettings =
    flags.data === 'full' ? { ...base, ...(quick ? QUICK_FULL_DATA : FULL_DATA) } : base;
  return flags.target === undefined ? sized : { ...sized, target: flags.target };
}

/** One method of the comparison: its local training, its lr grid and its round cap. */
export interface CnnMethod {
  name: 'FedSGD' | 'FedAvg';
  epochs: number;
  /** 0: the client's whole data in one batch. */
  batch: number;
  lrs: number[];
  cap: number;
}

export function cnnMethods(s: CnnSettings): CnnMethod[] {
  return [
    { name: 'FedSGD', epochs: 1, batch: 0, lrs: s.fedsgdLrs, cap: s.fedsgdRounds },
    { name: 'FedAvg', epochs: 5, batch: 10, lrs: s.fedavgLrs, cap: s.fedavgRounds },
  ];
}

/** An accuracy as a percentage without trailing zeros: 0.97 → "97%", 0.975 → "97.5%". */
export const percent = (x: number) => `${Number((100 * x).toFixed(2))}%`;
