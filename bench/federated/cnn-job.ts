import type { RunOutcome } from './cnn-protocol.js';
import type { CnnSettings } from './cnn-settings.js';

/** One simulated run of the CNN comparison, as the bench sends it to a worker process. */
export interface CnnJob
  extends Pick<
    CnnSettings,
    'data' | 'clients' | 'fraction' | 'trainPerClass' | 'testPerClass' | 'filters' | 'dense' | 'target'
  > {
  partition: 'iid' | 'noniid';
  epochs: number;
  batch: number;
  lr: number;
  seed: number;
  rounds: number;
}

/** Bench → worker: run this job (a worker runs one at a time). */
export interface CnnCall {
  id: number;
  job: CnnJob;
}

/** Worker → bench: a round of the job in hand, the job's outcome, or why it failed. */
export type CnnAnswer =
  | { id: number; round: number; accuracy: number }
  | { id: number; ok: true; outcome: RunOutcome }
  | { id: number; ok: false; error: string };
