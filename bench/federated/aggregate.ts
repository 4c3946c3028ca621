import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { createStrategy, type ModelWeights, mulberry32 } from '../../federated/index.js';
import { timed } from '../lib/measure.js';

/** Peak of RSS and of heap + ArrayBuffers while `fn` runs (sampled by `sample()` calls inside it). */
export class PeakMemory {
  rss = 0;
  buffers = 0;
  sample(): void {
    const m = process.memoryUsage();
    this.rss = Math.max(this.rss, m.rss);
    this.buffers = Math.max(this.buffers, m.heapUsed + m.arrayBuffers);
  }
}

/** One measured way of averaging the updates. */
export interface AggregateRun {
  ms: number;
  /** Peak RSS growth over the start of the run, MB. */
  rssMb: number;
  /** Peak (heap + ArrayBuffer) growth over the start, MB. */
  liveMb: number;
}

/** What {@link measureAggregate} returns. */
export interface AggregateFigures {
  params: number;
  updates: number;
  baseline: AggregateRun;
  fedavg: AggregateRun;
  /** Max |fedavg − baseline| over the result: both compute the same mean. */
  maxDiff: number;
}

setFlagsFromString('--expose-gc');
/** A full garbage collection, so that a run's memory growth starts from what is live. */
export const gc = runInNewContext('gc') as () => void;

/**
 * FedAvg's streaming aggregation (validation: shape, finiteness, norm; then a weighted
 * accumulate) over `updates` updates of `params` parameters, against a tight Float32Array
 * accumulate loop with the same weights over the same update buffers. The updates cycle
 * through a pool of 4 pre-made buffers so that neither side pays for generating data and
 * the memory figure shows what aggregation keeps, not the fixture.
 */
export async function measureAggregate(
  params: number,
  updates: number,
  progress: (l: string) => void,
): Promise<AggregateFigures> {
  const random = mulberry32(1);
  const pool = Array.from({ length: 4 }, () =>
    Float32Array.from({ length: params }, () => (random() - 0.5) * 1e-3),
  );
  const examples = (i: number) => 10 + (i % 7);
  const global: ModelWeights = [{ name: 'w', shape: [params], values: new Float32Array(params) }];

  const run = async (fn: (peak: PeakMemory) => Float32Array) => {
    gc();
    const start = process.memoryUsage();
    const peak = new PeakMemory();
    const { ms, value } = await timed(() => fn(peak));
    return {
      value,
      run: {
        ms,
        rssMb: (peak.rss - start.rss) / 1e6,
        liveMb: (peak.buffers - start.heapUsed - start.arrayBuffers) / 1e6,
      },
    };
  };

  progress(`baseline: Float32Array accumulate, ${updates} × ${params.toLocaleString('en-US')}`);
  const base = await run((peak) => {
    const acc = new Float32Array(params);
    let total = 0;
    for (let i = 0; i < updates; i++) {
      const u = pool[i % pool.length] as Float32Array;
      const w = examples(i);
      for (let k = 0; k < params; k++) acc[k] = (acc[k] as number) + w * (u[k] as number);
      total += w;
      peak.sample();
    }
    for (let k = 0; k < params; k++) acc[k] = (acc[k] as number) / total;
    return acc;
  });
  progress('fedavg: validate + streaming weighted mean');
  const fed = await run((peak) => {
    const round = createStrategy('fedavg').begin(global, { round: 1, maxNorm: 1e6 });
    for (let i = 0; i < updates; i++) {
      const verdict = round.add({
        clientId: `c${i}`,
        delta: [{ name: 'w', shape: [params], values: pool[i % pool.length] as Float32Array }],
        examples: examples(i),
      });
      if (!verdict.ok) throw new Error(`update refused: ${verdict.detail}`);
      peak.sample();
    }
    const out = round.finish().weights[0]?.values as Float32Array;
    peak.sample();
    return out;
  });
  let maxDiff = 0;
  for (let k = 0; k < params; k++)
    maxDiff = Math.max(maxDiff, Math.abs((fed.value[k] as number) - (base.value[k] as number)));
  return { params, updates, baseline: base.run, fedavg: fed.run, maxDiff };
}
