import { OutpostError } from '../../shared/index.js';
import { decodeOnnxModel, encodeOnnxModel, type INodeProto, type ITensorProto, onnx } from '../onnx/proto.js';
import { hostTensorOf, tensorProtoOf } from '../onnx/tensor-proto.js';
import { toHalfArray } from '../tensor/float16.js';
import { nameMinter } from './graph-edit.js';

const FLOAT = onnx.TensorProto.DataType.FLOAT;
const FLOAT16 = onnx.TensorProto.DataType.FLOAT16;
const TENSOR_ATTR = onnx.AttributeProto.AttributeType.TENSOR;

/** What {@link convertFp16} changed. */
export interface Fp16Result {
  bytes: Uint8Array;
  /** Initializers and constants now stored as float16. */
  converted: string[];
  /** Graph inputs and outputs that keep float32 at the interface through a Cast. */
  castInputs: string[];
  castOutputs: string[];
}

function halfOf(proto: ITensorProto): ITensorProto {
  const t = hostTensorOf(proto);
  return tensorProtoOf(proto.name ?? '', {
    dtype: 'float16',
    dims: t.dims,
    data: toHalfArray(t.data as Float32Array),
  });
}

function rename(nodes: INodeProto[], from: string, to: string): void {
  for (const n of nodes) n.input = (n.input ?? []).map((i) => (i === from ? to : i));
}

/**
 * FP16 conversion: every float32 initializer, Constant and Cast-to-float
 * becomes float16 and every intermediate value float16, while the model's interface stays
 * as declared: each float32 graph input is cast to float16 right after it enters, and each
 * float32 graph output is computed in float16 and cast back to float32 as it leaves. So
 * callers send and receive float32 as before. Whether an engine runs a given float16 op is
 * the engine's business: a refusal shows up at admission (and the agent falls back to
 * another variant). Throws `INFER_MODEL_INVALID` for bytes that are not an ONNX model.
 */
export function convertFp16(bytes: Uint8Array): Fp16Result {
  const model = decodeOnnxModel(bytes);
  const graph = model.graph;
  if (!graph) throw new OutpostError('INFER_MODEL_INVALID', 'the ONNX model has no graph');
  const fresh = nameMinter(model);
  const nodes = graph.node ?? [];
  const converted: string[] = [];
  graph.initializer = (graph.initializer ?? []).map((t) => {
    if (t.dataType !== FLOAT) return t;
    converted.push(t.name ?? '');
    return halfOf(t);
  });
  for (const node of nodes) {
    if (node.opType === 'Cast' && !node.domain) {
      for (const a of node.attribute ?? []) if (a.name === 'to' && Number(a.i) === FLOAT) a.i = FLOAT16;
    }
    if (node.opType === 'Constant' && !node.domain) {
      for (const a of node.attribute ?? []) {
        if (a.type === TENSOR_ATTR && a.t && a.t.dataType === FLOAT) {
          converted.push(node.output?.[0] ?? '');
          a.t = halfOf(a.t);
        }
      }
    }
  }
  const isFloatValue = (v: { type?: { tensorType?: { elemType?: number | null } | null } | null }) =>
    v.type?.tensorType?.elemType === FLOAT;
  const initNames = new Set((graph.initializer ?? []).map((t) => t.name ?? ''));
  const head: INodeProto[] = [];
  const castInputs: string[] = [];
  for (const input of graph.input ?? []) {
    const name = input.name ?? '';
    if (initNames.has(name) || !isFloatValue(input)) continue;
    const half = fresh(`${name}_fp16`);
    rename(nodes, name, half);
    head.push({
      opType: 'Cast',
      domain: '',
      name: fresh(`cast_${name}_to_fp16`),
      input: [name],
      output: [half],
      attribute: [{ name: 'to', type: onnx.AttributeProto.AttributeType.INT, i: FLOAT16 }],
    });
    castInputs.push(name);
  }
  const tail: INodeProto[] = [];
  const castOutputs: string[] = [];
  for (const output of graph.output ?? []) {
    const name = output.name ?? '';
    if (!isFloatValue(output)) continue;
    const half = fresh(`${name}_fp16`);
    for (const n of nodes) n.output = (n.output ?? []).map((o) => (o === name ? half : o));
    rename(nodes, name, half);
    tail.push({
      opType: 'Cast',
      domain: '',
      name: fresh(`cast_${name}_to_fp32`),
      input: [half],
      output: [name],
      attribute: [{ name: 'to', type: onnx.AttributeProto.AttributeType.INT, i: FLOAT }],
    });
    castOutputs.push(name);
  }
  graph.node = [...head, ...nodes, ...tail];
  // Intermediate shapes were float32; onnxruntime infers them again, so they are dropped.
  graph.valueInfo = [];
  return { bytes: encodeOnnxModel(model), converted, castInputs, castOutputs };
}
