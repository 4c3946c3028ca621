import { performance } from 'node:perf_hooks';
import * as ort from 'onnxruntime-node';
import { pino } from 'pino';
import type { Agent } from '../../agent/index.js';
import {
  ENGINES,
  encodeTensors,
  type LoadedModel,
  TENSOR_MEDIA_TYPE,
  type TensorMap,
  tensorToJson,
} from '../../inference/index.js';
import { median, percentile } from '../lib/measure.js';
import { benchAgent } from './fixture.js';

/** A raw onnxruntime session with the `onnx:cpu` engine's options: one thread, all graph optimizations. */
function rawSession(bytes: Uint8Array): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(bytes, {
    executionProviders: ['cpu'],
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
    logSeverityLevel: 3,
  });
}

/** Per-run medians (ms) of raw onnxruntime, the engine alone and the agent in process, rounds interleaved. */
export interface InProcessFigures {
  rawMs: number;
  /**
   * Raw `InferenceSession.run` building its `ort.Tensor` from the caller's typed array on
   * every call (what any caller holding its data in a typed array pays; the agent does the same).
   */
  rawTensorMs: number;
  /** The `onnx:cpu` engine's `LoadedModel.run` (tensor wrapping only). */
  engineMs: number;
  agentMs: number;
  /** Median over rounds of each round's (x ÷ raw), wall time: the pair measured back to back. */
  ratio: { rawTensor: number; engine: number; agent: number };
  /** The same from this process's CPU time (user + system), which other processes do not inflate. */
  cpu: { rawUs: number; agentUs: number; agentRatio: number; agentAddedUs: number };
  runs: number;
}

/**
 * Raw `InferenceSession.run` (same bytes, same session options as the `onnx:cpu` engine:
 * one thread, all graph optimizations) against `agent.models.infer` with the cache off,
 * same input. `rounds` rounds of `runs` calls of each, in an order that alternates between
 * rounds; every pass is timed in wall and in CPU time, and each ratio is the median of the
 * per-round ratios (on a machine shared with other work the load drifts slower than a round,
 * so it falls on both sides of a ratio alike).
 */
export async function measureInProcess(
  agent: Agent,
  bytes: Uint8Array,
  input: TensorMap,
  runs: number,
  rounds: number,
): Promise<InProcessFigures> {
  agent.models.setPolicy('digits', { cache: false });
  const session = await rawSession(bytes);
  const x = input.x;
  if (!x || !(x.data instanceof Float32Array)) throw new Error('the benchmark input needs a float32 x');
  const feeds = { x: new ort.Tensor('float32', x.data, [...x.dims]) };
  const engine = await ENGINES['onnx:cpu'].load(
    { format: 'onnx', bytes },
    { intraOpThreads: 1, interOpThreads: 1, options: {}, log: pino({ level: 'silent' }) },
  );
  const pass = async (fn: () => Promise<unknown>): Promise<[number, number]> => {
    const cpu = process.cpuUsage();
    const start = performance.now();
    for (let i = 0; i < runs; i++) await fn();
    const wall = (performance.now() - start) / runs;
    const used = process.cpuUsage(cpu);
    return [wall, (used.user + used.system) / runs];
  };
  const dims = [...x.dims];
  const fns = {
    raw: () => session.run(feeds),
    rawTensor: () => session.run({ x: new ort.Tensor('float32', x.data, dims) }),
    engine: () => engine.run(input),
    agent: () => agent.models.infer('digits', input),
  };
  const names = Object.keys(fns) as Array<keyof typeof fns>;
  for (let i = 0; i < 1000; i++) for (const n of names) await fns[n]();
  const wall = {
    raw: [] as number[],
    rawTensor: [] as number[],
    engine: [] as number[],
    agent: [] as number[],
  };
  const cpu = { raw: [] as number[], agent: [] as number[] };
  const ratios = { rawTensor: [] as number[], engine: [] as number[], agent: [] as number[] };
  const cpuRatio: number[] = [];
  const cpuAdded: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 === 0 ? names : [...names].reverse();
    const round = {} as Record<keyof typeof fns, [number, number]>;
    for (const n of order) round[n] = await pass(fns[n]);
    for (const n of names) wall[n].push(round[n][0]);
    cpu.raw.push(round.raw[1]);
    cpu.agent.push(round.agent[1]);
    ratios.rawTensor.push(round.rawTensor[0] / round.raw[0]);
    ratios.engine.push(round.engine[0] / round.raw[0]);
    ratios.agent.push(round.agent[0] / round.raw[0]);
    cpuRatio.push(round.agent[1] / round.raw[1]);
    cpuAdded.push(round.agent[1] - round.raw[1]);
  }
  await session.release();
  await engine.close();
  return {
    rawMs: median(wall.raw),
    rawTensorMs: median(wall.rawTensor),
    engineMs: median(wall.engine),
    agentMs: median(wall.agent),
    ratio: {
      rawTensor: median(ratios.rawTensor),
      engine: median(ratios.engine),
      agent: median(ratios.agent),
    },
    cpu: {
      rawUs: median(cpu.raw),
      agentUs: median(cpu.agent),
      agentRatio: median(cpuRatio),
      agentAddedUs: median(cpuAdded),
    },
    runs,
  };
}

/** The raw run time, ms, the in-process goal is stated for (≤ 1.05× raw `session.run`). */
export const GOAL_RUN_MS = 0.2;

/**
 * The batch whose raw `session.run` takes about `targetMs` on this machine: timed at batch
 * 192 and scaled, then timed again at that batch and scaled once more (the MLP's run time is
 * about linear in the batch well above the session's fixed cost of some 15 µs); each timing
 * the median of 9 passes of 300 runs. A multiple of 16.
 */
export async function batchForRunMs(
  bytes: Uint8Array,
  input: (batch: number) => TensorMap,
  targetMs: number,
): Promise<number> {
  const session = await rawSession(bytes);
  const runMs = async (batch: number) => {
    const x = input(batch).x;
    if (!x) throw new Error('the benchmark input needs an x');
    const feeds = { x: new ort.Tensor('float32', x.data as Float32Array, [...x.dims]) };
    for (let i = 0; i < 500; i++) await session.run(feeds);
    const passes: number[] = [];
    for (let p = 0; p < 9; p++) {
      const start = performance.now();
      for (let i = 0; i < 300; i++) await session.run(feeds);
      passes.push((performance.now() - start) / 300);
    }
    return median(passes);
  };
  const scaled = (batch: number, ms: number) =>
    Math.min(4096, Math.max(16, Math.round((batch * targetMs) / ms / 16) * 16));
  try {
    const first = scaled(192, await runMs(192));
    return scaled(first, await runMs(first));
  } finally {
    await session.release();
  }
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

/**
 * The agent's own work per call, without onnxruntime: the `onnx:cpu` engine is replaced, for
 * an agent started here, by a stand-in that declares the real model's signature and answers
 * after one `setImmediate` (as onnxruntime-node does) with fresh output tensors of the
 * model's shape. `agent.models.infer` against awaiting the stand-in's `run` directly, CPU time,
 * `rounds` paired rounds of `runs` calls in alternating order; median and quartiles of the
 * per-round difference, µs. Free of the run-to-run noise of a real session, so it shows
 * what the agent adds even where the machine's load hides a few µs in the ratios.
 */
export async function measureOwnWork(
  bytes: Uint8Array,
  input: TensorMap,
  runs: number,
  rounds: number,
): Promise<{ medianUs: number; q1Us: number; q3Us: number; standInUs: number }> {
  const engine = ENGINES['onnx:cpu'];
  const load = engine.load;
  const batch = input.x?.dims[0] ?? 1;
  let standIn: LoadedModel | undefined;
  engine.load = async (source, settings) => {
    const real = await load.call(engine, source, settings);
    const logits = new Float32Array(batch * 10).map((_, i) => (i % 10) - 5);
    const probs = new Float32Array(batch * 10).fill(0.1);
    const outputs = (): TensorMap => ({
      logits: { dtype: 'float32', dims: [batch, 10], data: logits },
      probs: { dtype: 'float32', dims: [batch, 10], data: probs },
    });
    // Warm-up and admission runs (other shapes) go to the real session.
    const mine = (inputs: TensorMap) => inputs.x?.dims[0] === batch;
    standIn = {
      engine: real.engine,
      signature: real.signature,
      run: (inputs) =>
        mine(inputs) ? new Promise((resolve) => setImmediate(() => resolve(outputs()))) : real.run(inputs),
      runThen: (inputs, onOutputs, onError) =>
        mine(inputs)
          ? new Promise((resolve) => setImmediate(() => resolve(onOutputs(outputs()))))
          : real.run(inputs).then(onOutputs, onError),
      close: () => real.close(),
    };
    return standIn;
  };
  const { agent, close } = await benchAgent(bytes).finally(() => {
    engine.load = load;
  });
  try {
    agent.models.setPolicy('digits', { cache: false });
    const model = standIn as LoadedModel;
    const pass = async (fn: () => Promise<unknown>) => {
      const cpu = process.cpuUsage();
      for (let i = 0; i < runs; i++) await fn();
      const used = process.cpuUsage(cpu);
      return (used.user + used.system) / runs;
    };
    const direct = () => model.run(input);
    const viaAgent = () => agent.models.infer('digits', input);
    for (let i = 0; i < 2000; i++) {
      await direct();
      await viaAgent();
    }
    const added: number[] = [];
    const base: number[] = [];
    for (let r = 0; r < rounds; r++) {
      let a: number;
      let b: number;
      if (r % 2 === 0) {
        a = await pass(direct);
        b = await pass(viaAgent);
      } else {
        b = await pass(viaAgent);
        a = await pass(direct);
      }
      added.push(b - a);
      base.push(a);
    }
    return {
      medianUs: median(added),
      q1Us: percentile(added, 25),
      q3Us: percentile(added, 75),
      standInUs: median(base),
    };
  } finally {
    await close();
  }
}
