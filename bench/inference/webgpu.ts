import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { pino } from 'pino';
import { ENGINES, type HostTensor, type LoadedModel } from '../../inference/index.js';
import type { EngineName } from '../../shared/index.js';
import { ZOO, zooFile, zooInputs } from '../../test/conformance/zoo.js';
import { median } from '../lib/measure.js';

/** One ONNX zoo model on onnx:webgpu against onnx:cpu. */
export interface WebgpuFigures {
  id: string;
  cpuMs: number;
  /** Session creation plus the first run (shader compilation happens there). */
  webgpuFirstMs: number;
  /** Steady-state median per run; NaN when WebGPU could not open or run the model. */
  webgpuMs: number;
  /** Largest |webgpu − cpu| over every output element. */
  maxAbsDiff: number;
  error?: string;
}

const settings = { intraOpThreads: 1, interOpThreads: 1, options: {}, log: pino({ level: 'silent' }) };

async function open(engine: EngineName, bytes: Uint8Array): Promise<LoadedModel> {
  return ENGINES[engine].load({ format: 'onnx', bytes }, settings);
}

async function medianRun(model: LoadedModel, inputs: Parameters<LoadedModel['run']>[0], runs: number) {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await model.run(inputs);
    times.push(performance.now() - t0);
  }
  return median(times);
}

/**
 * Every ONNX zoo model at its real shapes on `onnx:cpu` (1 thread) and `onnx:webgpu` (the
 * adapter this host has: a software Vulkan one where mesa-vulkan-drivers is installed).
 */
export async function measureWebgpu(
  runs: number,
  progress: (line: string) => void,
): Promise<WebgpuFigures[]> {
  const rows: WebgpuFigures[] = [];
  for (const zoo of ZOO.filter((m) => m.format === 'onnx')) {
    progress(`webgpu: ${zoo.id}`);
    const bytes = readFileSync(zooFile(zoo));
    const inputs = zooInputs(zoo, 1);
    const cpu = await open('onnx:cpu', bytes);
    const want = await cpu.run(inputs);
    const cpuMs = await medianRun(cpu, inputs, runs);
    await cpu.close();
    const t0 = performance.now();
    let gpu: LoadedModel | undefined;
    try {
      gpu = await open('onnx:webgpu', bytes);
      const got = await gpu.run(inputs);
      const webgpuFirstMs = performance.now() - t0;
      let maxAbsDiff = 0;
      for (const [name, w] of Object.entries(want)) {
        const a = (got[name] as HostTensor).data as Float32Array;
        (w.data as Float32Array).forEach((v, i) => {
          maxAbsDiff = Math.max(maxAbsDiff, Math.abs(v - (a[i] as number)));
        });
      }
      rows.push({
        id: zoo.id,
        cpuMs,
        webgpuFirstMs,
        webgpuMs: await medianRun(gpu, inputs, runs),
        maxAbsDiff,
      });
    } catch (err) {
      const error = (err as Error).message.split('\n')[0]?.slice(-160);
      rows.push({
        id: zoo.id,
        cpuMs,
        webgpuFirstMs: Number.NaN,
        webgpuMs: Number.NaN,
        maxAbsDiff: Number.NaN,
        error,
      });
    } finally {
      await gpu?.close();
    }
  }
  return rows;
}
