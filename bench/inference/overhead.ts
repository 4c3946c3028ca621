import { performance } from 'node:perf_hooks';
import * as ort from 'onnxruntime-node';
import { pino } from 'pino';
import type { Agent } from '../../agent/index.js';
import {
  ENGINES,
  encodeTensors,
  TENSOR_MEDIA_TYPE,
  type TensorMap,
  tensorToJson,
} from '../../inference/index.js';
import { median, percentile } from '../lib/measure.js';

/** Per-run medians (ms) of raw onnxruntime, the engine alone and the agent in process, rounds interleaved. */
export interface InProcessFigures {
  rawMs: number;
  /** The `onnx:cpu` engine's `LoadedModel.run` (tensor wrapping only). */
  engineMs: number;
  agentMs: number;
  runs: number;
}

/**
 * Raw `InferenceSession.run` (same bytes, same session options as the `onnx:cpu` engine:
 * one thread, all graph optimizations) against `agent.models.infer` with the cache off,
 * same input. `rounds` alternating rounds of `runs` calls; the median per-call time of each.
 */
export async function measureInProcess(
  agent: Agent,
  bytes: Uint8Array,
  input: TensorMap,
  runs: number,
  rounds: number,
): Promise<InProcessFigures> {
  agent.models.setPolicy('digits', { cache: false });
  const session = await ort.InferenceSession.create(bytes, {
    executionProviders: ['cpu'],
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
    logSeverityLevel: 3,
  });
  const x = input.x;
  if (!x || !(x.data instanceof Float32Array)) throw new Error('the benchmark input needs a float32 x');
  const feeds = { x: new ort.Tensor('float32', x.data, [...x.dims]) };
  const engine = await ENGINES['onnx:cpu'].load(
    { format: 'onnx', bytes },
    { intraOpThreads: 1, interOpThreads: 1, options: {}, log: pino({ level: 'silent' }) },
  );
  const raw: number[] = [];
  const viaEngine: number[] = [];
  const viaAgent: number[] = [];
  const pass = async (fn: () => Promise<unknown>) => {
    const start = performance.now();
    for (let i = 0; i < runs; i++) await fn();
    return (performance.now() - start) / runs;
  };
  const rawRun = () => session.run(feeds);
  const agentRun = () => agent.models.infer('digits', input);
  const engineRun = () => engine.run(input);
  for (let i = 0; i < 1000; i++) {
    await rawRun();
    await engineRun();
    await agentRun();
  }
  // Alternating which goes first, so drift on a shared machine falls on both alike.
  for (let r = 0; r < rounds; r++) {
    if (r % 2 === 0) {
      raw.push(await pass(rawRun));
      viaEngine.push(await pass(engineRun));
      viaAgent.push(await pass(agentRun));
    } else {
      viaAgent.push(await pass(agentRun));
      viaEngine.push(await pass(engineRun));
      raw.push(await pass(rawRun));
    }
  }
  await session.release();
  await engine.close();
  return { rawMs: median(raw), engineMs: median(viaEngine), agentMs: median(viaAgent), runs };
}

/** Latency percentiles, ms. */
export interface Percentiles {
  p50: number;
  p99: number;
}

async function latencies(count: number, call: () => Promise<unknown>): Promise<Percentiles> {
  const times: number[] = [];
  for (let i = 0; i < 100; i++) await call();
  for (let i = 0; i < count; i++) {
    const start = performance.now();
    await call();
    times.push(performance.now() - start);
  }
  return { p50: median(times), p99: percentile(times, 99) };
}

/** In-process, local HTTP JSON and local HTTP binary latencies of the same inference (cache off). */
export async function measureHttp(
  agent: Agent,
  input: TensorMap,
  count: number,
): Promise<{ inProcess: Percentiles; json: Percentiles; binary: Percentiles }> {
  agent.models.setPolicy('digits', { cache: false });
  const url = `${agent.api.url}/v1/models/digits/infer`;
  const jsonBody = JSON.stringify({ inputs: { x: tensorToJson(input.x as never) } });
  const binaryBody = encodeTensors(input);
  const post = async (body: string | Uint8Array, type: string) => {
    const res = await fetch(url, { method: 'POST', headers: { 'content-type': type }, body });
    await res.arrayBuffer();
    if (!res.ok) throw new Error(`local API answered ${res.status}`);
  };
  return {
    inProcess: await latencies(count, () => agent.models.infer('digits', input)),
    json: await latencies(count, () => post(jsonBody, 'application/json')),
    binary: await latencies(count, () => post(binaryBody, TENSOR_MEDIA_TYPE)),
  };
}

/** Cache hit (the same input again) against miss (a new input each call), per-call medians, ms. */
export async function measureCache(
  agent: Agent,
  inputs: TensorMap[],
  rounds: number,
): Promise<{ hitMs: number; missMs: number; offMs: number }> {
  const pass = async (fn: (i: number) => Promise<unknown>) => {
    const start = performance.now();
    for (let i = 0; i < inputs.length; i++) await fn(i);
    return (performance.now() - start) / inputs.length;
  };
  const hit: number[] = [];
  const miss: number[] = [];
  const off: number[] = [];
  for (let r = 0; r < rounds; r++) {
    agent.models.setPolicy('digits', { cache: true, preprocessing: `round-${r}` });
    // A new preprocessing version per round: every input is a miss the first time, a hit after.
    miss.push(await pass((i) => agent.models.infer('digits', inputs[i] as TensorMap)));
    hit.push(await pass((i) => agent.models.infer('digits', inputs[i] as TensorMap)));
    agent.models.setPolicy('digits', { cache: false });
    off.push(await pass((i) => agent.models.infer('digits', inputs[i] as TensorMap)));
  }
  return { hitMs: median(hit), missMs: median(miss), offMs: median(off) };
}
