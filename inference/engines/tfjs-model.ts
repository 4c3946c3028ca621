import type { EngineName, TensorSpec } from '../../shared/index.js';
import { type ModelSource, shardPaths } from '../model/source.js';
import type { HostTensor, TensorDtype, TensorMap } from '../tensor/host-tensor.js';
import { initBackend, selectBackend, type Tf } from './tfjs-runtime.js';
import type { LoadedModel } from './types.js';

type TfjsSource = Exclude<ModelSource, { format: 'onnx' }>;
type TfTensor = ReturnType<Tf['tensor']>;

/** model.json and its shards as in-memory TF.js artifacts (shards concatenated in manifest order). */
function artifactsOf(source: TfjsSource) {
  const { modelJson } = source;
  const parts = shardPaths(modelJson).map((p) => source.shards.get(p) ?? new Uint8Array());
  const total = parts.reduce((n, p) => n + p.byteLength, 0);
  const weightData = new Uint8Array(total);
  let offset = 0;
  for (const p of parts) {
    weightData.set(p, offset);
    offset += p.byteLength;
  }
  return {
    modelTopology: modelJson.modelTopology as object,
    format: modelJson.format as string | undefined,
    weightSpecs: modelJson.weightsManifest.flatMap((g) => g.weights) as never,
    weightData: weightData.buffer,
    ...(modelJson.signature ? { signature: modelJson.signature as object } : {}),
    ...(modelJson.userDefinedMetadata
      ? { userDefinedMetadata: modelJson.userDefinedMetadata as object }
      : {}),
  };
}

function spec(
  name: string,
  dtype: string | undefined,
  shape: readonly (number | null)[] | undefined,
): TensorSpec {
  return { name, dtype: (dtype ?? 'float32') as TensorDtype, shape: (shape ?? []).map((d) => d ?? -1) };
}

function toTf(tf: Tf, t: HostTensor): TfTensor {
  if (t.dtype === 'float32' || t.dtype === 'int32' || t.dtype === 'bool' || t.dtype === 'string') {
    return tf.tensor(t.data as Float32Array, [...t.dims], t.dtype);
  }
  throw new Error(`TF.js has no ${t.dtype} tensors`);
}

function fromTf(t: TfTensor): HostTensor {
  const dtype = t.dtype as TensorDtype;
  const data = t.dataSync();
  if (dtype === 'string') {
    const bytes = data as unknown as Uint8Array[];
    return { dtype, dims: [...t.shape], data: bytes.map((b) => Buffer.from(b).toString('utf8')) };
  }
  const copy =
    dtype === 'bool' ? Uint8Array.from(data as Uint8Array) : (data.slice() as Float32Array | Int32Array);
  return { dtype, dims: [...t.shape], data: copy };
}

/**
 * Opens a TF.js graph or layers model on `backend`. The signature is the model's own
 * (graph: its inputs/outputs; layers: its input and output layers, null dims as -1).
 * Runs are synchronous after the backend switch (see tfjs-runtime.ts).
 */
export async function openTfjsModel(
  tf: Tf,
  engine: EngineName,
  backend: string,
  source: TfjsSource,
): Promise<LoadedModel> {
  await initBackend(tf, backend);
  selectBackend(tf, backend);
  const handler = tf.io.fromMemory(artifactsOf(source));
  let execute: (inputs: TensorMap) => TfTensor[];
  let dispose: () => void;
  let inputs: TensorSpec[];
  let outputs: TensorSpec[];
  if (source.format === 'tfjs-graph') {
    const model = await tf.loadGraphModel(handler);
    inputs = model.inputs.map((i) => spec(i.name, i.dtype, i.shape));
    outputs = model.outputs.map((o) => spec(o.name, o.dtype, o.shape));
    const names = outputs.map((o) => o.name);
    execute = (feeds) => {
      const named: Record<string, TfTensor> = {};
      for (const [name, t] of Object.entries(feeds)) named[name] = toTf(tf, t);
      const result = model.execute(named, names);
      return Array.isArray(result) ? result : [result];
    };
    dispose = () => model.dispose();
  } else {
    const model = await tf.loadLayersModel(handler);
    inputs = model.inputs.map((t) => spec(t.name, t.dtype, t.shape));
    outputs = model.outputs.map((t) => spec(t.name, t.dtype, t.shape));
    execute = (feeds) => {
      const ordered = inputs.map((s) => toTf(tf, feeds[s.name] as HostTensor));
      const result = model.predict(ordered.length === 1 ? (ordered[0] as TfTensor) : ordered);
      return Array.isArray(result) ? result : [result];
    };
    dispose = () => model.dispose();
  }
  let closed = false;
  return {
    engine,
    signature: { inputs, outputs },
    async run(feeds: TensorMap): Promise<TensorMap> {
      // Synchronous from here on: the backend cannot change under this run.
      selectBackend(tf, backend);
      const results = tf.tidy(() => execute(feeds));
      try {
        const out: TensorMap = {};
        outputs.forEach((o, i) => {
          const t = results[i];
          if (t) out[o.name] = fromTf(t);
        });
        return out;
      } finally {
        for (const t of results) t.dispose();
      }
    },
    async close() {
      if (closed) return;
      closed = true;
      dispose();
    },
  };
}
