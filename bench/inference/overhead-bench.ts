import * as ort from 'onnxruntime-node';
import { request } from 'undici';
import type { Agent } from '../../agent/index.js';
import { encodeTensors, TENSOR_MEDIA_TYPE, type TensorMap, tensorToJson } from '../../inference/index.js';
import { median, millis, percentile, ratio } from '../lib/measure.js';
import { machine, table } from '../lib/report.js';
import type { Benchmark } from '../lib/types.js';
import { benchAgent, digitsBench } from './fixture.js';
import { measureHttp, measureInProcess, type Percentiles } from './overhead.js';

/**
 * `npm run bench -- inference-overhead`: only the agent's own cost per inference (about a
 * minute): in process against raw onnxruntime at batch 48 (~0.2 ms) and batch 1 (~20 µs),
 * and the local HTTP API (binary and JSON, through `fetch` and through undici's `request`).
 */
export const inferenceOverheadBenchmark: Benchmark = {
  description:
    'agent in process vs raw onnxruntime at 0.2 ms and 20 µs per run, local HTTP overhead per client',
  async run({ quick, progress }) {
    progress('training the digits model');
    const model = digitsBench();
    const { agent, close } = await benchAgent(model.bytes);
    try {
      const runs = quick ? 500 : 3000;
      const rounds = quick ? 4 : 10;
      progress('in process, batch 48');
      const big = await measureInProcess(agent, model.bytes, model.input(48), runs, rounds);
      progress('in process, batch 1');
      const small = await measureInProcess(agent, model.bytes, model.input(1), runs, rounds);
      progress('CPU time per call, batch 48 and 1');
      const cpuBig = await measureCpu(
        agent,
        model.bytes,
        model.input(48),
        quick ? 1000 : 5000,
        quick ? 4 : 8,
      );
      const cpuSmall = await measureCpu(
        agent,
        model.bytes,
        model.input(1),
        quick ? 1000 : 5000,
        quick ? 4 : 8,
      );
      progress('local HTTP API (fetch)');
      const one = model.input(1);
      const viaFetch = await measureHttp(agent, one, quick ? 300 : 2000);
      progress('local HTTP API (undici request)');
      const viaUndici = await measureUndici(agent.api.url, one, quick ? 300 : 2000);
      const row = (label: string, f: typeof big) => [
        label,
        millis(f.rawMs),
        millis(f.engineMs),
        ratio(f.engineMs / f.rawMs),
        millis(f.agentMs),
        ratio(f.agentMs / f.rawMs),
      ];
      const http = (label: string, p: Percentiles) => [
        label,
        millis(p.p50),
        millis(p.p99),
        millis(p.p50 - viaFetch.inProcess.p50),
      ];
      return [
        `inference overhead benchmark${quick ? ' (--quick: small sizes, do not publish)' : ''} — ${machine()}`,
        'model: digits MLP 784→64→10 (real MNIST), onnx:cpu, 1 thread, cache off',
        '',
        'In process (agent.models.infer) vs raw InferenceSession.run, median of alternating rounds:',
        table(
          ['batch', 'raw run', 'engine', 'engine ÷ raw', 'agent', 'agent ÷ raw'],
          [row('48', big), row('1', small)],
        ),
        '',
        'Process CPU time per call (user + system; other processes on the machine do not count), median of rounds:',
        table(
          ['batch', 'raw run', 'agent', 'agent ÷ raw', "agent's own work"],
          [cpuBig, cpuSmall].map((c, i) => [
            i === 0 ? '48' : '1',
            `${c.rawUs.toFixed(1)} µs`,
            `${c.agentUs.toFixed(1)} µs`,
            ratio(c.agentUs / c.rawUs),
            `${(c.agentUs - c.rawUs).toFixed(1)} µs`,
          ]),
        ),
        '',
        'Local HTTP API, one digit (p50 overhead = p50 − in-process p50):',
        table(
          ['path', 'p50', 'p99', 'p50 overhead'],
          [
            ['in process', millis(viaFetch.inProcess.p50), millis(viaFetch.inProcess.p99), '—'],
            http('binary, fetch', viaFetch.binary),
            http('binary, undici request', viaUndici.binary),
            http('JSON, fetch', viaFetch.json),
            http('JSON, undici request', viaUndici.json),
          ],
        ),
      ].join('\n');
    } finally {
      await close();
    }
  },
};

/** CPU µs per call (process user + system) of raw `InferenceSession.run` and the agent, alternating rounds. */
async function measureCpu(
  agent: Agent,
  bytes: Uint8Array,
  input: TensorMap,
  runs: number,
  rounds: number,
): Promise<{ rawUs: number; agentUs: number }> {
  agent.models.setPolicy('digits', { cache: false });
  const session = await ort.InferenceSession.create(bytes, {
    executionProviders: ['cpu'],
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
    logSeverityLevel: 3,
  });
  const x = input.x as { data: Float32Array; dims: readonly number[] };
  const feeds = { x: new ort.Tensor('float32', x.data, [...x.dims]) };
  const cpu = async (fn: () => Promise<unknown>) => {
    const start = process.cpuUsage();
    for (let i = 0; i < runs; i++) await fn();
    const d = process.cpuUsage(start);
    return (d.user + d.system) / runs;
  };
  const raw: number[] = [];
  const viaAgent: number[] = [];
  for (let i = 0; i < 500; i++) {
    await session.run(feeds);
    await agent.models.infer('digits', input);
  }
  for (let r = 0; r < rounds; r++) {
    raw.push(await cpu(() => session.run(feeds)));
    viaAgent.push(await cpu(() => agent.models.infer('digits', input)));
  }
  await session.release();
  return { rawUs: median(raw), agentUs: median(viaAgent) };
}

async function measureUndici(
  base: string,
  input: TensorMap,
  count: number,
): Promise<{ json: Percentiles; binary: Percentiles }> {
  const url = `${base}/v1/models/digits/infer`;
  const jsonBody = JSON.stringify({ inputs: { x: tensorToJson(input.x as never) } });
  const binaryBody = encodeTensors(input);
  const post = async (body: string | Uint8Array, type: string) => {
    const res = await request(url, { method: 'POST', headers: { 'content-type': type }, body });
    await res.body.arrayBuffer();
    if (res.statusCode !== 200) throw new Error(`local API answered ${res.statusCode}`);
  };
  const lat = async (call: () => Promise<unknown>): Promise<Percentiles> => {
    const times: number[] = [];
    for (let i = 0; i < 100; i++) await call();
    for (let i = 0; i < count; i++) {
      const start = performance.now();
      await call();
      times.push(performance.now() - start);
    }
    return { p50: median(times), p99: percentile(times, 99) };
  };
  return {
    json: await lat(() => post(jsonBody, 'application/json')),
    binary: await lat(() => post(binaryBody, TENSOR_MEDIA_TYPE)),
  };
}
