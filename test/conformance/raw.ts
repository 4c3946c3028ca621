import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { HostTensor, TensorMap } from '../../inference/index.js';

/**
 * The raw runtimes the agent must agree with: onnxruntime-node and TF.js called directly, as a
 * user would without Outpost (none of Outpost's engine code).
 */
export interface RawModel {
  run(inputs: TensorMap): Promise<TensorMap>;
  close(): Promise<void>;
}

/** onnxruntime-node on its CPU provider, one intra-op thread (as the conformance agent runs). */
export async function rawOnnx(path: string): Promise<RawModel> {
  const ort = await import('onnxruntime-node');
  const session = await ort.InferenceSession.create(readFileSync(path), {
    executionProviders: ['cpu'],
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
  });
  return {
    async run(inputs) {
      const feeds: Record<string, InstanceType<typeof ort.Tensor>> = {};
      for (const [name, t] of Object.entries(inputs))
        feeds[name] = new ort.Tensor(t.dtype as never, t.data as never, [...t.dims]);
      const out = await session.run(feeds);
      return Object.fromEntries(
        Object.entries(out).map(([name, t]) => [
          name,
          { dtype: t.type, dims: [...t.dims], data: t.data } as HostTensor,
        ]),
      );
    },
    close: () => session.release(),
  };
}

/** A TF.js graph model on TF.js's wasm backend, run with `executeAsync` (which runs any graph). */
export async function rawTfjs(modelJsonPath: string): Promise<RawModel> {
  const tf = await import('@tensorflow/tfjs');
  await import('@tensorflow/tfjs-backend-wasm');
  const json = JSON.parse(readFileSync(modelJsonPath, 'utf8'));
  const groups = json.weightsManifest as Array<{ paths: string[]; weights: unknown[] }>;
  const shards = groups.flatMap((g) => g.paths.map((p) => readFileSync(join(dirname(modelJsonPath), p))));
  const weightData = new Uint8Array(Buffer.concat(shards)).buffer;
  await tf.setBackend('wasm');
  const model = await tf.loadGraphModel(
    tf.io.fromMemory({
      modelTopology: json.modelTopology,
      weightSpecs: groups.flatMap((g) => g.weights) as never,
      weightData,
    }),
  );
  const names = model.outputs.map((o) => o.name);
  return {
    async run(inputs) {
      await tf.setBackend('wasm');
      const feeds: Record<string, ReturnType<typeof tf.tensor>> = {};
      for (const [name, t] of Object.entries(inputs)) {
        feeds[name] = tf.tensor(t.data as Float32Array, [...t.dims], t.dtype as 'float32' | 'int32');
      }
      const result = await model.executeAsync(feeds, names);
      const list = Array.isArray(result) ? result : [result];
      const out: TensorMap = {};
      list.forEach((t, i) => {
        out[names[i] as string] = {
          dtype: t.dtype as 'float32',
          dims: [...t.shape],
          data: t.dataSync() as Float32Array,
        };
        t.dispose();
      });
      for (const t of Object.values(feeds)) t.dispose();
      return out;
    },
    async close() {
      model.dispose();
    },
  };
}
