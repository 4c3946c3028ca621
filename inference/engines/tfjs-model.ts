import type { EngineName, TensorSpec } from '../../shared/index.js';
import { type ModelSource, shardPaths } from '../model/source.js';
import type { HostTensor, TensorDtype, TensorMap } from '../tensor/host-tensor.js';
import { exclusiveRun, initBackend, selectBackend, type Tf } from './tfjs-runtime.js';
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
 * Ops whose output shapes depend on the data, or that are control flow: TF.js's graph
 * executor refuses `execute()` on a graph with them ("Please use model.executeAsync()").
 */
const DYNAMIC_OPS = new Set([
  'Where',
  'NonMaxSuppressionV2',
  'NonMaxSuppressionV3',
  'NonMaxSuppressionV4',
  'NonMaxSuppressionV5',
  'Switch',
  'Merge',
  'Enter',
  'Exit',
  'NextIteration',
  'LoopCond',
  'StatelessIf',
  'StatelessWhile',
  'If',
  'While',
  'TensorArrayV3',
  'TensorListReserve',
  'Unique',
  'ListDiff',
]);

/** True when a graph model.json holds a dynamic op (in its nodes or its functions). */
export function hasDynamicOps(modelTopology: unknown): boolean {
  const topology = modelTopology as {
    node?: Array<{ op?: string }>;
    library?: { function?: Array<{ nodeDef?: Array<{ op?: string }> }> };
  };
  const nodes = [
    ...(topology.node ?? []),
    ...(topology.library?.function ?? []).flatMap((f) => f.nodeDef ?? []),
  ];
  return nodes.some((n) => n.op !== undefined && DYNAMIC_OPS.has(n.op));
}

const needsAsync = (err: unknown) => err instanceof Error && /executeAsync/.test(err.message);

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
  /** Set for graphs with dynamic ops: runs through `executeAsync` instead. */
  const mode: { executeAsync?: (inputs: TensorMap) => Promise<TfTensor[]> } = {};
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
    const runAsync = async (feeds: TensorMap) => {
      const named: Record<string, TfTensor> = {};
      for (const [name, t] of Object.entries(feeds)) named[name] = toTf(tf, t);
      try {
        const result = await model.executeAsync(named, names);
        return Array.isArray(result) ? result : [result];
      } finally {
        for (const t of Object.values(named)) t.dispose();
      }
    };
    if (hasDynamicOps(source.modelJson.modelTopology)) mode.executeAsync = runAsync;
    else {
      // A dynamic op this scan does not know: TF.js says so on the first run; switch then.
      const sync = execute;
      execute = (feeds) => {
        try {
          return sync(feeds);
        } catch (err) {
          if (needsAsync(err)) mode.executeAsync = runAsync;
          throw err;
        }
      };
    }
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
      const results = await exclusiveRun(async () => {
        selectBackend(tf, backend);
        if (mode.executeAsync) return mode.executeAsync(feeds);
        try {
          // Synchronous: the backend cannot change under this run.
          return tf.tidy(() => execute(feeds));
        } catch (err) {
          const retry = mode.executeAsync as ((inputs: TensorMap) => Promise<TfTensor[]>) | undefined;
          if (!retry) throw err;
          selectBackend(tf, backend);
          return retry(feeds);
        }
      });
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
