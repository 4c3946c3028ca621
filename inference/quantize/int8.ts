import { OutpostError } from '../../shared/index.js';
import { decodeOnnxModel, encodeOnnxModel, type INodeProto, onnx } from '../onnx/proto.js';
import { hostTensorOf, tensorProtoOf } from '../onnx/tensor-proto.js';
import { consumerCounts, defaultOpset, initializersByName, intAttribute, nameMinter } from './graph-edit.js';

/** Options of {@link quantizeInt8}. */
export interface Int8Options {
  /** One scale per output channel (default true) or one per weight tensor. */
  perChannel?: boolean;
  /** Weights with fewer elements stay float32 (default 16: quantizing tiny tensors saves nothing). */
  minElements?: number;
}

/** What {@link quantizeInt8} changed. */
export interface Int8Result {
  bytes: Uint8Array;
  /** Weight initializers now stored as int8. */
  quantized: string[];
  /** MatMul/Gemm weights left in float32, each with why. */
  skipped: Array<{ node: string; reason: string }>;
}

/** Symmetric int8 of `w` [rows, cols] with one scale per column (`axis` 1) or row (`axis` 0) or per tensor. */
function quantizeWeights(
  w: Float32Array,
  rows: number,
  cols: number,
  axis: 0 | 1 | undefined,
): { q: Int8Array; scales: Float32Array } {
  const channels = axis === undefined ? 1 : axis === 1 ? cols : rows;
  const channelOf = (r: number, c: number) => (axis === undefined ? 0 : axis === 1 ? c : r);
  const maxAbs = new Float32Array(channels);
  for (let r = 0; r < rows; r++)
    for (let c = 0; c < cols; c++) {
      const ch = channelOf(r, c);
      maxAbs[ch] = Math.max(maxAbs[ch] as number, Math.abs(w[r * cols + c] as number));
    }
  // Symmetric range [-127, 127] (zero point 0): -128 is left out so +/- round the same way.
  const scales = maxAbs.map((m) => (m > 0 ? m / 127 : 1));
  const q = new Int8Array(rows * cols);
  for (let r = 0; r < rows; r++)
    for (let c = 0; c < cols; c++) {
      const v = Math.round((w[r * cols + c] as number) / (scales[channelOf(r, c)] as number));
      q[r * cols + c] = Math.max(-127, Math.min(127, v));
    }
  return { q, scales };
}

/**
 * Dynamic weight-only INT8: every float32 2-D initializer that is the B
 * input of a MatMul or Gemm is stored as int8 with a float32 scale (per output channel by
 * default) and a zero point of 0, and read through a `DequantizeLinear` node feeding the
 * original op. Activations stay float32, so the model's interface does not change and
 * onnxruntime's CPU provider runs it on every platform (DequantizeLinear with `axis` needs
 * opset 13: models of opset 10-12 get one scale per tensor, older ones are refused). The file shrinks about 4× in its weights;
 * accuracy loss is bounded by half a quantization step per weight. Throws
 * `INFER_MODEL_INVALID` for bytes that are not an ONNX model.
 */
export function quantizeInt8(bytes: Uint8Array, options: Int8Options = {}): Int8Result {
  const model = decodeOnnxModel(bytes);
  const graph = model.graph;
  if (!graph) throw new OutpostError('INFER_MODEL_INVALID', 'the ONNX model has no graph');
  const opset = defaultOpset(model);
  if (opset < 10) {
    throw new OutpostError(
      'INFER_MODEL_INVALID',
      `int8 quantization needs ONNX opset 10 or later (DequantizeLinear); the model imports opset ${opset}`,
    );
  }
  // Per-axis DequantizeLinear came with opset 13; older models get one scale per tensor.
  const perChannel = (options.perChannel ?? true) && opset >= 13;
  const minElements = options.minElements ?? 16;
  const inits = initializersByName(model);
  const fresh = nameMinter(model);
  const nodes = graph.node ?? [];
  const readers = consumerCounts(nodes);
  const out: INodeProto[] = [];
  const quantized: string[] = [];
  const skipped: Int8Result['skipped'] = [];
  const remove = new Set<string>();
  for (const node of nodes) {
    const op = node.opType ?? '';
    const weightName = node.input?.[1];
    if ((op !== 'MatMul' && op !== 'Gemm') || (node.domain ?? '') !== '' || !weightName) {
      out.push(node);
      continue;
    }
    const label = node.name || `${op}(${weightName})`;
    const init = inits.get(weightName);
    const reason = !init
      ? 'its weight is not an initializer'
      : init.dataType !== onnx.TensorProto.DataType.FLOAT
        ? 'its weight is not float32'
        : (init.dims ?? []).length !== 2
          ? 'its weight is not 2-D'
          : undefined;
    const tensor = init && !reason ? hostTensorOf(init) : undefined;
    if (!tensor || reason || tensor.data.length < minElements) {
      skipped.push({ node: label, reason: reason ?? `its weight has fewer than ${minElements} elements` });
      out.push(node);
      continue;
    }
    const [rows, cols] = tensor.dims as [number, number];
    // The output channel: MatMul's W is [K, N] (columns); Gemm's is [N, K] when transB=1.
    const axis = perChannel ? (op === 'Gemm' && intAttribute(node, 'transB', 0) === 1 ? 0 : 1) : undefined;
    const { q, scales } = quantizeWeights(tensor.data as Float32Array, rows, cols, axis);
    const qName = fresh(`${weightName}_int8`);
    const sName = fresh(`${weightName}_scale`);
    const zName = fresh(`${weightName}_zero_point`);
    const dqName = fresh(`${weightName}_dequantized`);
    graph.initializer?.push(
      tensorProtoOf(qName, { dtype: 'int8', dims: [rows, cols], data: q }),
      tensorProtoOf(sName, {
        dtype: 'float32',
        dims: axis === undefined ? [] : [scales.length],
        data: scales,
      }),
      tensorProtoOf(zName, {
        dtype: 'int8',
        dims: axis === undefined ? [] : [scales.length],
        data: new Int8Array(scales.length),
      }),
    );
    out.push({
      opType: 'DequantizeLinear',
      domain: '',
      name: fresh(`dequantize_${weightName}`),
      input: [qName, sName, zName],
      output: [dqName],
      attribute:
        axis === undefined ? [] : [{ name: 'axis', type: onnx.AttributeProto.AttributeType.INT, i: axis }],
    });
    out.push({ ...node, input: [node.input?.[0] ?? '', dqName, ...(node.input ?? []).slice(2)] });
    quantized.push(weightName);
    // The float weight goes once no other node reads it.
    readers.set(weightName, (readers.get(weightName) ?? 1) - 1);
    if ((readers.get(weightName) ?? 0) <= 0) remove.add(weightName);
  }
  graph.node = out;
  graph.initializer = (graph.initializer ?? []).filter((t) => !remove.has(t.name ?? ''));
  graph.input = (graph.input ?? []).filter((i) => !remove.has(i.name ?? ''));
  return { bytes: encodeOnnxModel(model), quantized, skipped };
}
