import type { InferenceSession, Tensor } from 'onnxruntime-node';
import type { EngineName, TensorSpec } from '../../shared/index.js';
import { toHalfArray } from '../tensor/float16.js';
import type { HostTensor, TensorDtype, TensorMap } from '../tensor/host-tensor.js';
import type { EngineSettings, LoadedModel } from './types.js';

/** What onnxruntime-node and onnxruntime-web share (both re-export onnxruntime-common). */
export interface OrtRuntime {
  Tensor: typeof Tensor;
  InferenceSession: typeof InferenceSession;
}

/** Session options from the engine settings: one provider only (it never falls back itself). */
export function sessionOptions(provider: string, settings: EngineSettings): InferenceSession.SessionOptions {
  const { options } = settings;
  return {
    executionProviders: [provider],
    intraOpNumThreads: settings.intraOpThreads,
    interOpNumThreads: settings.interOpThreads,
    graphOptimizationLevel: options.graphOptimization ?? 'all',
    logSeverityLevel: 3,
    ...(options.approximateGelu ? { extra: { optimization: { enable_gelu_approximation: '1' } } } : {}),
  };
}

/** Largest real dim; onnxruntime-web reports an unnamed dynamic dim as 2^32 − 1 (uint32 −1). */
const MAX_DIM = 2 ** 31 - 1;

/**
 * A dim as the signature keeps it: a size, a name, or -1 for an unnamed dynamic dim
 * (onnxruntime-node reports it as `''` or a negative number, onnxruntime-web as 4294967295).
 */
function dimOf(d: number | string): number | string {
  if (typeof d === 'string') return d === '' ? -1 : d;
  return d < 0 || d > MAX_DIM ? -1 : d;
}

function specOf(meta: InferenceSession.ValueMetadata): TensorSpec {
  if (!meta.isTensor) return { name: meta.name, dtype: 'float32', shape: [] };
  return { name: meta.name, dtype: meta.type as TensorDtype, shape: meta.shape.map(dimOf) };
}

function toOrt(ort: OrtRuntime, t: HostTensor): Tensor {
  // The caller's data and dims as they are: onnxruntime reads them, it does not keep or change them.
  return new ort.Tensor(t.dtype as Tensor.Type, t.data as Tensor.DataType, t.dims);
}

function fromOrt(t: Tensor): HostTensor {
  const dtype = t.type as TensorDtype;
  let data = t.data as HostTensor['data'];
  // A runtime with Float16Array hands back floats: keep float16 as half bits throughout.
  if (dtype === 'float16' && !(data instanceof Uint16Array)) data = toHalfArray(data as Float32Array);
  // The output tensor is this run's own (its dims too): taken over, not copied.
  return { dtype, dims: t.dims, data };
}

/**
 * Opens a session on one execution provider and wraps it as a {@link LoadedModel}. The
 * signature is the session's own input/output metadata.
 */
export async function openOrtModel(
  ort: OrtRuntime,
  engine: EngineName,
  provider: string,
  bytes: Uint8Array,
  settings: EngineSettings,
): Promise<LoadedModel> {
  const session = await ort.InferenceSession.create(bytes, sessionOptions(provider, settings));
  const signature = {
    inputs: session.inputMetadata.map(specOf),
    outputs: session.outputMetadata.map(specOf),
  };
  let closed = false;
  const outputNames = session.outputNames;
  const toHost = (results: InferenceSession.ReturnType): TensorMap => {
    const out: TensorMap = {};
    for (const name of outputNames) {
      const r = results[name];
      if (r) out[name] = fromOrt(r);
    }
    return out;
  };
  const feedsOf = (inputs: TensorMap): Record<string, Tensor> => {
    const feeds: Record<string, Tensor> = {};
    for (const name in inputs) feeds[name] = toOrt(ort, inputs[name] as HostTensor);
    return feeds;
  };
  return {
    engine,
    signature,
    // Not async: the session's own promise and one continuation (an async function would add
    // a hop); a synchronous throw (a tensor onnxruntime refuses) still comes back as a rejection.
    run(inputs: TensorMap): Promise<TensorMap> {
      try {
        return session.run(feedsOf(inputs)).then(toHost);
      } catch (err) {
        return Promise.reject(err);
      }
    },
    runThen<R>(
      inputs: TensorMap,
      onOutputs: (outputs: TensorMap) => R,
      onError: (err: unknown) => R,
    ): Promise<R> {
      let running: Promise<InferenceSession.ReturnType>;
      try {
        running = session.run(feedsOf(inputs));
      } catch (err) {
        return Promise.reject(err).catch(onError);
      }
      return running.then((results) => {
        let outputs: TensorMap;
        try {
          outputs = toHost(results);
        } catch (err) {
          return onError(err);
        }
        return onOutputs(outputs);
      }, onError);
    },
    async close() {
      if (closed) return;
      closed = true;
      await session.release();
    },
  };
}
