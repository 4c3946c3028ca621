import { encodeOnnxModel, type INodeProto, type ITensorProto, type ModelProto, onnx } from '../onnx/proto.js';
import { hostTensorOf, tensorProtoOf } from '../onnx/tensor-proto.js';
import type { Range } from './calibrate.js';
import { allReads, initializersByName, intAttribute, nameMinter } from './graph-edit.js';
import {
  activationParams,
  biasShift,
  intAttr,
  op,
  quantizeBias,
  quantizeWeight,
  scaleAndZero,
} from './int8-tensors.js';

/** How MatMul/Gemm activations are quantized: from calibrated ranges (QDQ) or per run (dynamic). */
export type Int8Mode = 'static' | 'dynamic';

/** What one rewrite did. */
export interface Int8Rewrite {
  bytes: Uint8Array;
  quantized: string[];
  skipped: Array<{ node: string; reason: string }>;
}

const WEIGHTED = new Set(['Conv', 'ConvTranspose', 'MatMul', 'Gemm']);

/** The output-channel axis of a node's weight. */
function weightAxis(node: INodeProto, rank: number): number {
  if (node.opType === 'Conv') return 0;
  if (node.opType === 'ConvTranspose') return 1;
  if (node.opType === 'Gemm') return intAttribute(node, 'transB', 0) === 1 ? 0 : 1;
  return rank - 1; // MatMul: [..., K, N]
}

/**
 * Rewrites Conv/ConvTranspose/MatMul/Gemm with float32 initializer weights to int8 in place:
 * `static` puts QuantizeLinear/DequantizeLinear pairs (uint8, from the calibrated ranges) on
 * each such node's activation input (and a Conv's output), int8 weights (symmetric, per output channel
 * when `perChannel`) and int32 biases behind DequantizeLinear, the form onnxruntime fuses
 * into QLinearConv/QLinearMatMul/QGemm; `dynamic` does the same for Conv but turns MatMul
 * (and plain Gemm) into DynamicQuantizeLinear + MatMulInteger, scaled back to float
 * (onnxruntime fuses it into DynamicQuantizeMatMul).
 */
export function rewriteInt8(
  model: ModelProto,
  ranges: ReadonlyMap<string, Range>,
  options: {
    mode: Int8Mode;
    perChannel: boolean;
    minElements: number;
    /** Nodes (by name) left in float32, each listed in `skipped` with the reason given. */
    exclude?: ReadonlyMap<string, string>;
    /**
     * Nodes (by name) whose weights become int8 (per output channel, behind DequantizeLinear)
     * while their activations stay float32: the size of int8, the accuracy of float for the
     * layers that need it (onnxruntime dequantizes such a weight on every run).
     */
    weightOnly?: ReadonlySet<string>;
    /** MatMul/Gemm weights per output column too (Conv weights follow `perChannel`). */
    perChannelMatMul?: boolean;
    /** 7-bit weights (onnxruntime's `reduce_range`). */
    reduceRange?: boolean;
    /**
     * Bias correction of the `weightOnly` Conv/Gemm layers from the calibrated per-channel
     * means of their inputs (`Range.channelMeans`; see `biasShift`). Measured on PP-OCRv4 rec
     * with every layer weight-only: top-1 95.9% → 98.8%. Not applied to layers whose
     * activations are quantized too: there it made the recognizer worse (95.0% → 91.3%),
     * the rounding of the activations being what the means of float activations miss.
     */
    biasCorrection?: boolean;
  },
): Int8Rewrite {
  const qMax = options.reduceRange ? 63 : 127;
  /** The corrected float bias of a quantized Conv/Gemm, or undefined to leave its bias as it is. */
  const correctedBias = (
    node: INodeProto,
    kind: string,
    x: string,
    w: Float32Array,
    dims: readonly number[],
    q: Int8Array,
    scales: Float32Array,
    bias: Float32Array | undefined,
  ): Float32Array | undefined => {
    const means = options.biasCorrection ? ranges.get(x)?.channelMeans : undefined;
    if (!means || (kind !== 'Conv' && kind !== 'Gemm')) return undefined;
    if (kind === 'Gemm' && intAttribute(node, 'transA', 0) !== 0) return undefined;
    const layout = kind === 'Conv' ? 'conv' : intAttribute(node, 'transB', 0) === 1 ? 'nk' : 'kn';
    const shift = biasShift(w, dims, q, scales, layout, means, intAttribute(node, 'group', 1));
    if (!shift || (bias && bias.length !== shift.length)) return undefined;
    return Float32Array.from(shift, (d, c) => (bias?.[c] ?? 0) - d);
  };
  const graph = model.graph;
  const fresh = nameMinter(model);
  const inits = initializersByName(model);
  const added: ITensorProto[] = [];
  const quantized: string[] = [];
  const skipped: Int8Rewrite['skipped'] = [];
  const nodes = graph?.node ?? [];
  // Activations that get a Q/DQ pair, and the DQ output that replaces them for every reader.
  const qdq = new Map<string, string>();
  const qdqParams = new Map<string, { scale: number; zeroPoint: number }>();
  const wantQdq = (t: string) => {
    const range = ranges.get(t);
    if (!range || inits.has(t)) return false;
    if (!qdq.has(t)) {
      qdq.set(t, fresh(`${t}_dequantized`));
      qdqParams.set(t, activationParams(range));
    }
    return true;
  };
  const body: INodeProto[] = [];
  for (const node of nodes) {
    const kind = node.domain ? '' : (node.opType ?? '');
    const label = node.name || kind;
    const [x, wName, bName] = [node.input?.[0] ?? '', node.input?.[1] ?? '', node.input?.[2]];
    const w = WEIGHTED.has(kind) ? inits.get(wName) : undefined;
    if (!WEIGHTED.has(kind)) {
      body.push(node);
      continue;
    }
    const excluded = options.exclude?.get(node.name ?? '');
    const reason = excluded
      ? excluded
      : !w
        ? 'its weight is not a constant'
        : w.dataType !== onnx.TensorProto.DataType.FLOAT
          ? 'its weight is not float32'
          : hostTensorOf(w).data.length < options.minElements
            ? `its weight has fewer than ${options.minElements} elements`
            : undefined;
    if (!w || reason) {
      skipped.push({ node: label, reason: reason ?? '' });
      body.push(node);
      continue;
    }
    const weight = hostTensorOf(w);
    const dims = weight.dims;
    if (options.weightOnly?.has(node.name ?? '')) {
      const axis = weightAxis(node, dims.length);
      const { q, scales } = quantizeWeight(weight.data as Float32Array, dims, axis, undefined, qMax);
      const [qName, sName, zName, dqName] = [
        fresh(`${wName}_int8`),
        fresh(`${wName}_scale`),
        fresh(`${wName}_zero_point`),
        fresh(`${wName}_dequantized`),
      ];
      added.push(
        tensorProtoOf(qName, { dtype: 'int8', dims, data: q }),
        ...scaleAndZero(sName, zName, scales, new Int8Array(scales.length), true),
      );
      const biasInit = bName ? inits.get(bName) : undefined;
      const floatBias =
        biasInit?.dataType === onnx.TensorProto.DataType.FLOAT && (biasInit.dims ?? []).length === 1
          ? (hostTensorOf(biasInit).data as Float32Array)
          : undefined;
      const corrected =
        !bName || floatBias
          ? correctedBias(node, kind, x, weight.data as Float32Array, dims, q, scales, floatBias)
          : undefined;
      let biasInput = node.input?.[2];
      if (corrected) {
        biasInput = fresh(`${bName || `${label}_bias`}_corrected`);
        added.push(tensorProtoOf(biasInput, { dtype: 'float32', dims: [corrected.length], data: corrected }));
      }
      body.push(
        op(
          'DequantizeLinear',
          fresh(`dequantize_${wName}`),
          [qName, sName, zName],
          [dqName],
          [intAttr('axis', axis)],
        ),
        {
          ...node,
          input: [x, dqName, ...(biasInput ? [biasInput] : []), ...(node.input ?? []).slice(3)],
        },
      );
      quantized.push(wName);
      continue;
    }
    const dynamic =
      options.mode === 'dynamic' &&
      (kind === 'MatMul' ||
        (kind === 'Gemm' &&
          intAttribute(node, 'transA', 0) === 0 &&
          dims.length === 2 &&
          !(node.attribute ?? []).some((a) => (a.name === 'alpha' || a.name === 'beta') && a.f !== 1)));
    if (dynamic) {
      // Gemm with transB holds W as [N, K]; MatMulInteger wants [K, N].
      let data = weight.data as Float32Array;
      let wDims = [...dims];
      if (kind === 'Gemm' && intAttribute(node, 'transB', 0) === 1) {
        const [n, k] = dims as [number, number];
        data = new Float32Array(n * k);
        for (let i = 0; i < n; i++)
          for (let j = 0; j < k; j++) data[j * n + i] = (weight.data as Float32Array)[i * k + j] as number;
        wDims = [k, n];
      }
      const axis = options.perChannelMatMul ? wDims.length - 1 : undefined;
      const { q, scales } = quantizeWeight(data, wDims, axis, undefined, qMax);
      const [qName, sName, zName] = [
        fresh(`${wName}_int8`),
        fresh(`${wName}_scale`),
        fresh(`${wName}_zero_point`),
      ];
      added.push(
        tensorProtoOf(qName, { dtype: 'int8', dims: wDims, data: q }),
        ...scaleAndZero(sName, zName, scales, new Int8Array(scales.length), axis !== undefined),
      );
      const [xq, xs, xz, yi, yf, sc] = ['x_q', 'x_scale', 'x_zero_point', 'int32', 'float', 'scale'].map(
        (s) => fresh(`${label}_${s}`),
      ) as [string, string, string, string, string, string];
      const y = node.output?.[0] ?? '';
      const hasBias = kind === 'Gemm' && bName;
      const scaled = hasBias ? fresh(`${label}_no_bias`) : y;
      body.push(
        op('DynamicQuantizeLinear', fresh(`${label}_quantize_input`), [x], [xq, xs, xz]),
        op('MatMulInteger', fresh(`${label}_matmul_integer`), [xq, qName, xz, zName], [yi]),
        op('Mul', fresh(`${label}_scale_mul`), [xs, sName], [sc]),
        op('Cast', fresh(`${label}_cast`), [yi], [yf], [intAttr('to', onnx.TensorProto.DataType.FLOAT)]),
        op('Mul', fresh(`${label}_rescale`), [yf, sc], [scaled]),
      );
      if (hasBias) body.push(op('Add', fresh(`${label}_bias`), [scaled, bName], [y]));
      quantized.push(wName);
      continue;
    }
    const y = node.output?.[0] ?? '';
    if (!wantQdq(x) || !ranges.get(y)) {
      skipped.push({ node: label, reason: 'no calibrated range for its input or output' });
      body.push(node);
      continue;
    }
    // Conv needs its output requantized for onnxruntime to fuse DQ-Conv-Q into QLinearConv;
    // MatMul/Gemm outputs stay float (DQ-MatMul fuses into MatMulIntegerToFloat), so a
    // logits layer keeps its float resolution.
    if (kind.startsWith('Conv')) wantQdq(y);
    const axis =
      (options.perChannel && kind.startsWith('Conv')) ||
      (options.perChannelMatMul && !kind.startsWith('Conv'))
        ? weightAxis(node, dims.length)
        : undefined;
    const biasInit = bName ? inits.get(bName) : undefined;
    const biasData =
      biasInit?.dataType === onnx.TensorProto.DataType.FLOAT
        ? (hostTensorOf(biasInit).data as Float32Array)
        : undefined;
    const xScaleOf = qdqParams.get(x)?.scale ?? 1;
    const floor =
      biasData && axis !== undefined && biasData.length === dims[axis]
        ? biasData.map((b) => Math.abs(b) / (xScaleOf * 2 ** 30))
        : undefined;
    const { q, scales } = quantizeWeight(weight.data as Float32Array, dims, axis, floor, qMax);
    const [qName, sName, zName, dqName] = [
      fresh(`${wName}_int8`),
      fresh(`${wName}_scale`),
      fresh(`${wName}_zero_point`),
      fresh(`${wName}_dequantized`),
    ];
    added.push(
      tensorProtoOf(qName, { dtype: 'int8', dims, data: q }),
      ...scaleAndZero(sName, zName, scales, new Int8Array(scales.length), axis !== undefined),
    );
    body.push(
      op(
        'DequantizeLinear',
        fresh(`dequantize_${wName}`),
        [qName, sName, zName],
        [dqName],
        axis === undefined ? [] : [intAttr('axis', axis)],
      ),
    );
    const inputs = [x, dqName];
    const bias = bName ? inits.get(bName) : undefined;
    const channels = axis === undefined ? 1 : (dims[axis] as number);
    const floatBias =
      bName && bias && bias.dataType === onnx.TensorProto.DataType.FLOAT && (bias.dims ?? []).length === 1
        ? (hostTensorOf(bias).data as Float32Array)
        : undefined;
    if (bName && floatBias) {
      const b = floatBias;
      const xScale = qdqParams.get(x)?.scale ?? 1;
      const perChannelBias = axis !== undefined && b.length === channels;
      const { q: bq, scales: bs } = quantizeBias(
        b,
        xScale,
        perChannelBias || axis === undefined ? scales : Float32Array.of(scales[0] as number),
      );
      const [bqName, bsName, bzName, bdq] = [
        fresh(`${bName}_int32`),
        fresh(`${bName}_scale`),
        fresh(`${bName}_zero_point`),
        fresh(`${bName}_dequantized`),
      ];
      const perTensor = !perChannelBias;
      added.push(
        tensorProtoOf(bqName, { dtype: 'int32', dims: [b.length], data: bq }),
        ...scaleAndZero(
          bsName,
          bzName,
          perTensor ? bs.slice(0, 1) : bs,
          new Int32Array(perTensor ? 1 : bs.length),
          !perTensor,
        ),
      );
      body.push(
        op(
          'DequantizeLinear',
          fresh(`dequantize_${bName}`),
          [bqName, bsName, bzName],
          [bdq],
          perTensor ? [] : [intAttr('axis', 0)],
        ),
      );
      inputs.push(bdq);
    } else if (bName) inputs.push(bName);
    body.push({ ...node, input: inputs });
    quantized.push(wName);
  }
  // Each activation with a Q/DQ pair: quantize it where it is made; every reader takes the DQ.
  const out: INodeProto[] = [];
  const pair = (t: string): INodeProto[] => {
    const dq = qdq.get(t) as string;
    const { scale, zeroPoint } = qdqParams.get(t) as { scale: number; zeroPoint: number };
    const [sName, zName, qName] = [fresh(`${t}_scale`), fresh(`${t}_zero_point`), fresh(`${t}_quantized`)];
    added.push(...scaleAndZero(sName, zName, Float32Array.of(scale), Uint8Array.of(zeroPoint), false));
    return [
      op('QuantizeLinear', fresh(`quantize_${t}`), [t, sName, zName], [qName]),
      op('DequantizeLinear', fresh(`dequantize_${t}`), [qName, sName, zName], [dq]),
    ];
  };
  const graphInputs = new Set((graph?.input ?? []).map((i) => i.name ?? ''));
  for (const t of qdq.keys()) if (graphInputs.has(t)) out.push(...pair(t));
  for (const node of body) {
    node.input = (node.input ?? []).map((i) => qdq.get(i) ?? i);
    out.push(node);
    for (const o of node.output ?? []) if (qdq.has(o)) out.push(...pair(o));
  }
  // Graph outputs keep the float value; readers inside use the DQ.
  if (graph) {
    graph.node = out;
    const read = allReads(out);
    graph.initializer = [
      ...(graph.initializer ?? []).filter((t) => read.has(t.name ?? '') || graphInputs.has(t.name ?? '')),
      ...added,
    ];
    graph.valueInfo = [];
  }
  return { bytes: encodeOnnxModel(model), quantized, skipped };
}
