import { pino } from 'pino';
import { OutpostError } from '../../shared/index.js';
import { ENGINES } from '../engines/registry.js';
import { decodeOnnxModel, encodeOnnxModel, onnx } from '../onnx/proto.js';
import { valueTypes } from '../onnx/value-types.js';
import type { TensorMap } from '../tensor/host-tensor.js';

/** The smallest and largest value a float tensor took over the calibration inputs. */
export interface Range {
  min: number;
  max: number;
}

/** Runs a model on `onnx:cpu` (one thread); rejects with `INFER_MODEL_INVALID` naming `label`. */
export async function runAll(bytes: Uint8Array, inputs: TensorMap[], label: string): Promise<TensorMap[]> {
  let model: Awaited<ReturnType<(typeof ENGINES)['onnx:cpu']['load']>>;
  try {
    model = await ENGINES['onnx:cpu'].load(
      { format: 'onnx', bytes },
      { intraOpThreads: 1, interOpThreads: 1, options: {}, log: pino({ level: 'silent' }) },
    );
  } catch (err) {
    throw new OutpostError(
      'INFER_MODEL_INVALID',
      `${label} does not open on onnx:cpu: ${(err as Error).message}`,
    );
  }
  try {
    const out: TensorMap[] = [];
    for (const set of inputs) {
      try {
        out.push(await model.run(set));
      } catch (err) {
        throw new OutpostError('INFER_MODEL_INVALID', `${label} does not run: ${(err as Error).message}`);
      }
    }
    return out;
  } finally {
    await model.close();
  }
}

/**
 * The range of every float32 value in the top-level graph (graph inputs and node outputs)
 * over real inputs: the model is run once per input set with those values exposed as extra
 * outputs. Static quantization takes activation scales from these ranges, so the inputs
 * should look like what the model will see in service.
 */
export async function calibrate(bytes: Uint8Array, inputs: TensorMap[]): Promise<Map<string, Range>> {
  const model = decodeOnnxModel(bytes);
  const graph = model.graph;
  if (!graph) throw new OutpostError('INFER_MODEL_INVALID', 'the ONNX model has no graph');
  const types = valueTypes(graph);
  const declared = new Set((graph.output ?? []).map((o) => o.name ?? ''));
  const constants = new Set(
    (graph.node ?? []).filter((n) => n.opType === 'Constant').flatMap((n) => n.output ?? []),
  );
  const values = (graph.node ?? []).flatMap((n) => n.output ?? []).filter((v) => v && !constants.has(v));
  for (const v of values) {
    if (types.get(v) !== onnx.TensorProto.DataType.FLOAT || declared.has(v)) continue;
    graph.output?.push({ name: v, type: { tensorType: { elemType: onnx.TensorProto.DataType.FLOAT } } });
  }
  const ranges = new Map<string, Range>();
  for (const result of await runAll(encodeOnnxModel(model), inputs, 'the model being calibrated')) {
    for (const [name, t] of Object.entries({ ...result })) {
      if (!(t.data instanceof Float32Array)) continue;
      const r = ranges.get(name) ?? { min: 0, max: 0 };
      for (const x of t.data) {
        if (x < r.min) r.min = x;
        else if (x > r.max) r.max = x;
      }
      ranges.set(name, r);
    }
  }
  for (const set of inputs) {
    for (const [name, t] of Object.entries(set)) {
      if (!(t.data instanceof Float32Array)) continue;
      const r = ranges.get(name) ?? { min: 0, max: 0 };
      for (const x of t.data) {
        if (x < r.min) r.min = x;
        else if (x > r.max) r.max = x;
      }
      ranges.set(name, r);
    }
  }
  return ranges;
}
