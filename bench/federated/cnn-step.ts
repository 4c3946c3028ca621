import { buildMnistCnn, loadMnistSplit, trainLocal } from '../../federated/index.js';
import { median } from '../lib/measure.js';

/**
 * Median time of one batch-10 training step of the full-size CNN (`buildMnistCnn` defaults):
 * `trainLocal` over a client's 70 digits (7 steps per call, so the call's own set-up, the
 * weights in and out, is shared by 7 steps as in a FedAvg round), after one warm-up call.
 */
export async function measureCnnStep(repeats: number): Promise<{ ms: number; backend: string }> {
  const digits = loadMnistSplit(7, 1).train;
  const model = buildMnistCnn(1);
  const run = () => trainLocal({ model, samples: digits, lr: 0.05, epochs: 1, batchSize: 10, seed: 1 });
  const warm = await run();
  const perStep: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const t0 = performance.now();
    const r = await run();
    perStep.push((performance.now() - t0) / r.steps);
  }
  return { ms: median(perStep), backend: warm.backend };
}
