import { performance } from 'node:perf_hooks';
import * as ort from 'onnxruntime-node';
import { AgentMetrics } from '../../agent/api/metrics.js';
import { DriftSummarizer } from '../../agent/telemetry/drift-summarizer.js';
import type { AgentStatus } from '../../agent/types.js';
import { type HostTensor, OnnxModelBuilder } from '../../inference/index.js';
import { median, millis, ratio } from '../lib/measure.js';
import { machine, table } from '../lib/report.js';
import type { Benchmark } from '../lib/types.js';
import { benchHub, Scratch } from '../outbox/fixture.js';

const f32 = (dims: number[], data: Float32Array): HostTensor => ({ dtype: 'float32', dims, data });

/** A 4 → 3 dense classifier (Gemm + Softmax), like the tests' `clf`. */
function classifier(): Uint8Array {
  const w = Float32Array.from({ length: 12 }, (_, i) => Math.sin(i + 1));
  return new OnnxModelBuilder('ops-bench')
    .input('x', 'float32', ['batch', 4])
    .initializer('w', f32([4, 3], w))
    .initializer('b', f32([3], Float32Array.from([0.1, -0.2, 0.05])))
    .node('Gemm', ['x', 'w', 'b'], ['logits'])
    .node('Softmax', ['logits'], ['probs'], { axis: 1 })
    .output('logits', 'float32', ['batch', 3])
    .output('probs', 'float32', ['batch', 3])
    .build();
}

async function perCall(runs: number, rounds: number, fn: () => unknown): Promise<number> {
  const out: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const start = performance.now();
    for (let i = 0; i < runs; i++) await fn();
    out.push((performance.now() - start) / runs);
  }
  return median(out);
}

/**
 * `npm run bench -- ops`: what operations cost where they run.
 * 1. The agent's inference observer (Prometheus counters + drift histograms over 4 features
 *    × 10 bins + class histogram) per inference, against raw `InferenceSession.run` of the
 *    same small classifier in the same run, batch 1 and 50.
 * 2. A hub `/metrics` scrape with N enrolled devices against `/healthz` (same server, same
 *    run, alternating), sequential requests.
 */
export const opsBenchmark: Benchmark = {
  description: 'inference observer (metrics + drift) vs raw onnxruntime; hub /metrics scrape vs /healthz',
  async run({ quick, progress }) {
    const runs = quick ? 200 : 2000;
    const rounds = quick ? 3 : 7;
    const bytes = classifier();
    const session = await ort.InferenceSession.create(bytes, {
      executionProviders: ['cpu'],
      intraOpNumThreads: 1,
      graphOptimizationLevel: 'all',
      logSeverityLevel: 3,
    });
    // What AgentOperations.observe does per inference, with edges as a baseline gives them.
    const metrics = new AgentMetrics(
      () => ({}) as AgentStatus,
      () => 'onnx:cpu',
    );
    const drift = new DriftSummarizer(Date.now);
    const edges = {
      elements: [0, 1, 2, 3],
      edges: Array.from({ length: 4 }, () => [-1.5, -1, -0.5, -0.2, 0, 0.2, 0.5, 1, 1.5]),
      classes: 3,
    };
    const rows: string[][] = [];
    for (const batch of [1, 50]) {
      const data = Float32Array.from({ length: batch * 4 }, (_, i) => Math.sin(i * 0.37));
      const feeds = { x: new ort.Tensor('float32', data, [batch, 4]) };
      const inputs = { x: f32([batch, 4], data) };
      const result = await session.run(feeds);
      const outputs = { logits: f32([batch, 3], result.logits?.data as Float32Array) };
      const observation = {
        model: 'clf',
        version: '1.0.0',
        role: 'active' as const,
        latencyMs: 0.1,
        inputs,
        outputs,
      };
      const observe = () => {
        metrics.recordInference(observation);
        drift.record('clf', '1.0.0', inputs, outputs, edges);
      };
      progress(`batch ${batch}: raw onnxruntime and the observer, ${rounds} rounds of ${runs}`);
      for (let i = 0; i < 1000; i++) {
        await session.run(feeds);
        observe();
      }
      const raw = await perCall(runs, rounds, () => session.run(feeds));
      // Synchronous loop: the observer runs inline on the inference path, no await of its own.
      const observer = median(
        Array.from({ length: rounds }, () => {
          const start = performance.now();
          for (let i = 0; i < runs * 10; i++) observe();
          return (performance.now() - start) / (runs * 10);
        }),
      );
      rows.push([
        String(batch),
        millis(raw),
        `${(observer * 1000).toFixed(2)} µs`,
        ratio((raw + observer) / raw),
      ]);
    }
    await session.release();

    const scratch = new Scratch();
    const devices = quick ? 200 : 2000;
    const hub = await benchHub(await scratch.dir());
    const scrapeRows: string[][] = [];
    try {
      progress(`hub with ${devices} devices`);
      for (let i = 0; i < devices; i++)
        await hub.store.createDevice({ id: `bench-${i}`, secretHash: 'unused', createdAt: Date.now() });
      const get = (path: string) => async () => {
        const res = await fetch(`${hub.http.url}${path}`);
        await res.arrayBuffer();
      };
      const n = quick ? 50 : 300;
      const health: number[] = [];
      const metrics: number[] = [];
      for (let r = 0; r < rounds; r++) {
        const pair = [
          [health, get('/healthz')],
          [metrics, get('/metrics')],
        ] as const;
        for (const [out, fn] of r % 2 === 0 ? pair : [...pair].reverse()) out.push(await perCall(n, 1, fn));
      }
      const bytes = (await (await fetch(`${hub.http.url}/metrics`)).text()).length;
      scrapeRows.push([
        String(devices),
        millis(median(health)),
        millis(median(metrics)),
        ratio(median(metrics) / median(health)),
        `${bytes} B`,
      ]);
    } finally {
      await hub.close();
      await scratch.cleanup();
    }
    return [
      machine(),
      '',
      'Agent inference observer (Prometheus counters + drift summaries) per inference vs raw InferenceSession.run, median of rounds:',
      table(['batch', 'raw run', 'observer', '(raw + observer) ÷ raw'], rows),
      '',
      'Hub GET /metrics vs GET /healthz (same hub, sequential requests, median of alternating rounds):',
      table(['devices', '/healthz', '/metrics', 'ratio', 'scrape size'], scrapeRows),
    ].join('\n');
  },
};
