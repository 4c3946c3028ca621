import { type INodeProto, type ITensorProto, onnx } from '../onnx/proto.js';
import { tensorProtoOf } from '../onnx/tensor-proto.js';
import type { Range } from './calibrate.js';

/** Symmetric int8 of an N-D weight with one scale per index of `axis` (or one in all when undefined). */
export function quantizeWeight(
  w: Float32Array,
  dims: readonly number[],
  axis: number | undefined,
  minScales?: Float32Array,
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
  const scales = maxAbs.map((m, c) => Math.max(m > 0 ? m / 127 : 1, minScales?.[c] ?? 0));
  const q = new Int8Array(w.length);
  for (let i = 0; i < w.length; i++) {
    q[i] = Math.max(-127, Math.min(127, Math.round((w[i] as number) / (scales[channelOf(i)] as number))));
  }
  return { q, scales };
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
