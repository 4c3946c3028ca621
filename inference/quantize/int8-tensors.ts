import { type INodeProto, type ITensorProto, onnx } from '../onnx/proto.js';
import { tensorProtoOf } from '../onnx/tensor-proto.js';
import type { Range } from './calibrate.js';

/** Symmetric int8 of an N-D weight with one scale per index of `axis` (or one in all when undefined). */
export function quantizeWeight(
  w: Float32Array,
  dims: readonly number[],
  axis: number | undefined,
  minScales?: Float32Array,
  /** Largest |q| (127; 63 for onnxruntime's `reduce_range`, 7-bit weights for x86 without VNNI). */
  qMax = 127,
): { q: Int8Array; scales: Float32Array } {
  const channels = axis === undefined ? 1 : (dims[axis] as number);
  const inner = axis === undefined ? 1 : dims.slice(axis + 1).reduce((a, b) => a * b, 1);
  const channelOf = (i: number) => (axis === undefined ? 0 : Math.floor(i / inner) % channels);
  const maxAbs = new Float32Array(channels);
  for (let i = 0; i < w.length; i++) {
    const c = channelOf(i);
    maxAbs[c] = Math.max(maxAbs[c] as number, Math.abs(w[i] as number));
  }
  // Symmetric range [-127, 127] (zero point 0): -128 is left out so +/- round the same way.
  // A floor per channel keeps the bias, quantized at x_scale · w_scale, inside int32.
  const scales = maxAbs.map((m, c) => Math.max(m > 0 ? m / qMax : 1, minScales?.[c] ?? 0));
  const q = new Int8Array(w.length);
  for (let i = 0; i < w.length; i++) {
    q[i] = Math.max(-qMax, Math.min(qMax, Math.round((w[i] as number) / (scales[channelOf(i)] as number))));
  }
  return { q, scales };
}

/**
 * Bias correction (Nagel et al. 2019, "Data-Free Quantization", §4.2): the shift of each
 * output channel's mean that rounding the weights adds, Σ (w_q·s − w) · E[x] over the
 * channel's inputs, from the per-channel means of the layer's input over the calibration
 * inputs. Subtracted from the bias, it takes the systematic part of the weight error out
 * (borders and padding aside). `layout`: `conv` for [C_out, C_in/group, …kernel] weights,
 * `kn` for a MatMul/Gemm weight [K, N], `nk` for Gemm's transB [N, K].
 */
export function biasShift(
  w: Float32Array,
  dims: readonly number[],
  q: Int8Array,
  scales: Float32Array,
  layout: 'conv' | 'kn' | 'nk',
  means: Float64Array,
  group = 1,
): Float32Array | undefined {
  const scaleOf = (c: number) => (scales.length === 1 ? scales[0] : scales[c]) as number;
  if (layout === 'conv') {
    const [cout, cinPer] = dims as [number, number];
    const spatial = dims.slice(2).reduce((a, b) => a * b, 1);
    if (means.length !== cinPer * group || cout % group !== 0) return undefined;
    const outPer = cout / group;
    const shift = new Float32Array(cout);
    for (let o = 0; o < cout; o++) {
      const base = Math.floor(o / outPer) * cinPer;
      const s = scaleOf(o);
      let sum = 0;
      for (let ci = 0; ci < cinPer; ci++) {
        const m = means[base + ci] as number;
        for (let k = 0, i = (o * cinPer + ci) * spatial; k < spatial; k++, i++)
          sum += ((q[i] as number) * s - (w[i] as number)) * m;
      }
      shift[o] = sum;
    }
    return shift;
  }
  if (dims.length !== 2) return undefined;
  const [k, n] = (layout === 'kn' ? dims : [dims[1], dims[0]]) as [number, number];
  if (means.length !== k) return undefined;
  const shift = new Float32Array(n);
  for (let j = 0; j < n; j++) {
    const s = scaleOf(j);
    let sum = 0;
    for (let i = 0; i < k; i++) {
      const idx = layout === 'kn' ? i * n + j : j * k + i;
      sum += ((q[idx] as number) * s - (w[idx] as number)) * (means[i] as number);
    }
    shift[j] = sum;
  }
  return shift;
}

/** uint8 activation parameters for a calibrated range (widened to include 0, as zero must be exact). */
export function activationParams(range: Range): { scale: number; zeroPoint: number } {
  const min = Math.min(0, range.min);
  const max = Math.max(0, range.max);
  const scale = max > min ? (max - min) / 255 : 1;
  return { scale, zeroPoint: Math.max(0, Math.min(255, Math.round(-min / scale))) };
}

/** int32 bias for a quantized Conv/Gemm: scale x_scale · w_scale[c], zero point 0. */
export function quantizeBias(
  b: Float32Array,
  xScale: number,
  wScales: Float32Array,
): { q: Int32Array; scales: Float32Array } {
  const scales = Float32Array.from(b, (_, c) => xScale * (wScales[wScales.length === 1 ? 0 : c] as number));
  const q = Int32Array.from(b, (v, c) =>
    Math.max(-(2 ** 31), Math.min(2 ** 31 - 1, Math.round(v / (scales[c] as number)))),
  );
  return { q, scales };
}

export const intAttr = (name: string, i: number) => ({
  name,
  type: onnx.AttributeProto.AttributeType.INT,
  i,
});

/** A node in the default domain. */
export const op = (
  opType: string,
  name: string,
  input: string[],
  output: string[],
  attribute: INodeProto['attribute'] = [],
): INodeProto => ({
  opType,
  domain: '',
  name,
  input,
  output,
  attribute,
});

/** Scale and zero-point initializers (scalars, or 1-D when per channel). */
export function scaleAndZero(
  scaleName: string,
  zeroName: string,
  scales: Float32Array,
  zero: Int8Array | Uint8Array | Int32Array,
  perChannel: boolean,
): ITensorProto[] {
  const dims = perChannel ? [scales.length] : [];
  const dtype = zero instanceof Int8Array ? 'int8' : zero instanceof Uint8Array ? 'uint8' : 'int32';
  return [
    tensorProtoOf(scaleName, { dtype: 'float32', dims, data: scales }),
    tensorProtoOf(zeroName, { dtype, dims, data: zero }),
  ];
}
