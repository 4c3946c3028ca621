import { availableParallelism } from 'node:os';
import type { CnnData } from './cnn-data.js';

export type CnnPartition = 'iid' | 'noniid';

/** The CNN comparison's command-line settings (`mcmahan-cnn`; `cnn-cost` prices the same run). */
export interface CnnParams {
  /** `--partition iid|noniid|both` (default both). */
  partitions: CnnPartition[];
  /** `--target 0.97`: test accuracy to reach, above 0 and at most 1 (default the size's own). */
  target: number | undefined;
  /** `--processes N`: worker processes (default the number of CPUs, at most the runs that can overlap). */
  processes: number | undefined;
  /** `--data small|full`: the `mnist` package's 10 000 digits (default) or MNIST's own 70 000. */
  data: CnnData;
  /** `--resume PATH`: the file of recorded runs to answer from and add to (`mcmahan-cnn` only). */
  resume: string | undefined;
}

const PARTITIONS: Record<string, CnnPartition[]> = {
  iid: ['iid'],
  noniid: ['noniid'],
  both: ['iid', 'noniid'],
};

/** Reads and checks the settings, naming a bad value and what is allowed. */
export function cnnParams(params: Readonly<Record<string, string>>): CnnParams {
  const p = params.partition ?? 'both';
  const partitions = PARTITIONS[p];
  if (partitions === undefined)
    throw new RangeError(
      `federated bench: --partition must be iid, noniid or both, got ${JSON.stringify(p)}`,
    );
  let target: number | undefined;
  if (params.target !== undefined) {
    target = Number(params.target);
    if (!(params.target.trim() !== '' && target > 0 && target <= 1))
      throw new RangeError(
        `federated bench: --target must be a test accuracy above 0 and at most 1 (0.97 for 97%), got ${JSON.stringify(params.target)}`,
      );
  }
  let processes: number | undefined;
  if (params.processes !== undefined) {
    processes = Number(params.processes);
    if (!(Number.isInteger(processes) && processes > 0))
      throw new RangeError(
        `federated bench: --processes must be a positive integer, got ${JSON.stringify(params.processes)}`,
      );
  }
  const data = params.data ?? 'small';
  if (data !== 'small' && data !== 'full')
    throw new RangeError(`federated bench: --data must be small or full, got ${JSON.stringify(data)}`);
  const resume = params.resume;
  if (resume !== undefined && resume.trim() === '')
    throw new RangeError('federated bench: --resume needs the path of a file of recorded runs');
  return { partitions, target, processes, data, resume };
}

/**
 * The worker processes to use: as asked (default the number of CPUs), but no more than
 * `overlapping`, the most runs that can be in hand at once (a method's grid runs one value
 * after another, since each value's cut depends on the best before it).
 */
export function processCount(asked: number | undefined, overlapping: number): number {
  return Math.max(1, Math.min(asked ?? availableParallelism(), overlapping));
}

/** The most runs in hand at once: every method of every partition, its other seeds side by side. */
export const overlappingRuns = (partitions: number, methods: number, seeds: number) =>
  partitions * methods * Math.max(1, seeds - 1);
