import { pino } from 'pino';
import { ModelMetrics } from '../../agent/metrics/model-metrics.js';
import { ENGINES, type TensorMap } from '../../inference/index.js';
import { digitsBench } from '../inference/fixture.js';
import { median, millis, ratio } from '../lib/measure.js';
import { machine, table } from '../lib/report.js';
import type { Benchmark } from '../lib/types.js';

/**
 * `npm run bench -- rollouts`: what per-model metrics add to an inference.
 * The engine's `run` alone against `run` plus `ModelMetrics.record` (histogram bucket,
 * counters, confidence scan of the class output) on the same model and input, in alternating
 * rounds (median), for a 48-digit batch (~0.2 ms) and one digit (~0.05 ms); and `record`
 * alone per call.
 */
export const rolloutsBenchmark: Benchmark = {
  description: 'per-model metrics cost per inference (engine run alone vs run + metrics.record)',
  async run({ quick, progress }) {
    progress('training the digits model');
    const digits = digitsBench();
    const model = await ENGINES['onnx:cpu'].load(
      { format: 'onnx', bytes: digits.bytes },
      { intraOpThreads: 1, interOpThreads: 1, options: {}, log: pino({ level: 'silent' }) },
    );
    const metrics = new ModelMetrics();
    const calls = quick ? 300 : 3000;
    const rounds = quick ? 4 : 10;
    const measure = async (inputs: TensorMap, withMetrics: boolean) => {
      const start = performance.now();
      for (let i = 0; i < calls; i++) {
        const t0 = performance.now();
        const outputs = await model.run(inputs);
        if (withMetrics)
          metrics.record({
            model: 'digits',
            version: '1.0.0',
            role: 'active',
            latencyMs: performance.now() - t0,
            outputs,
          });
      }
      return (performance.now() - start) / calls;
    };
    const rows: string[][] = [];
    try {
      for (const batch of [48, 1]) {
        progress(`batch ${batch}`);
        const inputs = digits.input(batch) as unknown as TensorMap;
        await measure(inputs, true);
        const plain: number[] = [];
        const counted: number[] = [];
        for (let r = 0; r < rounds; r++) {
          if (r % 2 === 0) {
            plain.push(await measure(inputs, false));
            counted.push(await measure(inputs, true));
          } else {
            counted.push(await measure(inputs, true));
            plain.push(await measure(inputs, false));
          }
        }
        const outputs = await model.run(inputs);
        const n = calls * 10;
        const t0 = performance.now();
        for (let i = 0; i < n; i++)
          metrics.record({ model: 'digits', version: '1.0.0', role: 'active', latencyMs: 0.2, outputs });
        const recordUs = ((performance.now() - t0) / n) * 1000;
        rows.push([
          String(batch),
          millis(median(plain)),
          millis(median(counted)),
          ratio(median(counted) / median(plain)),
          `${recordUs.toFixed(2)} µs`,
        ]);
      }
    } finally {
      await model.close();
    }
    metrics.drain();
    return [
      `rollouts benchmark${quick ? ' (--quick: small sizes, do not publish)' : ''} — ${machine()}`,
      'digits MLP 784→64→10 (real MNIST), onnx:cpu, 1 thread; medians of alternating rounds',
      '',
      table(['BATCH', 'RUN ALONE', 'RUN + METRICS', 'RATIO', 'RECORD ALONE'], rows),
    ].join('\n');
  },
};
