import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type HostTensor, OnnxModelBuilder, type TensorMap } from '../../inference/index.js';

/** A float32 host tensor. */
export const f32 = (dims: number[], values: ArrayLike<number>): HostTensor => ({
  dtype: 'float32',
  dims,
  data: Float32Array.from(values),
});

/** Deterministic pseudo-random floats in [-1, 1) (xorshift; tests need reproducible weights). */
export function seededFloats(count: number, seed: number): Float32Array {
  let s = seed >>> 0 || 1;
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out[i] = ((s >>> 0) / 2 ** 32) * 2 - 1;
  }
  return out;
}

/** y = x·W + b for row-major x [n, k], W [k, m] (float64 accumulation: the ground truth). */
export function matmulBias(
  x: ArrayLike<number>,
  n: number,
  k: number,
  w: ArrayLike<number>,
  m: number,
  b?: ArrayLike<number>,
): number[] {
  const y: number[] = [];
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < m; j++) {
      let acc = b ? (b[j] as number) : 0;
      for (let t = 0; t < k; t++) acc += (x[i * k + t] as number) * (w[t * m + j] as number);
      y.push(acc);
    }
  }
  return y;
}

/** A dense classifier: x [batch, 4] → logits [batch, 3] (Gemm) and probs (Softmax). */
export function classifierModel(seed = 1): { bytes: Uint8Array; w: Float32Array; b: Float32Array } {
  const w = seededFloats(12, seed);
  const b = seededFloats(3, seed + 100);
  const bytes = new OnnxModelBuilder('classifier')
    .input('x', 'float32', ['batch', 4])
    .initializer('w', f32([4, 3], w))
    .initializer('b', f32([3], b))
    .node('Gemm', ['x', 'w', 'b'], ['logits'])
    .node('Softmax', ['logits'], ['probs'], { axis: 1 })
    .output('logits', 'float32', ['batch', 3])
    .output('probs', 'float32', ['batch', 3])
    .build();
  return { bytes, w, b };
}

/**
 * MatMul then GELU written out as ONNX exporters do (x·½·(1+erf(x/√2))). onnxruntime fuses
 * the pattern into Gelu; with `optimization.enable_gelu_approximation` it becomes the tanh
 * approximation, which really changes the numbers (by ~1e-5..1e-4).
 */
export function geluModel(seed = 7): Uint8Array {
  return new OnnxModelBuilder('gelu')
    .input('x', 'float32', ['batch', 4])
    .initializer('w', f32([4, 4], seededFloats(16, seed)))
    .initializer('sqrt2', f32([], [Math.SQRT2]))
    .initializer('one', f32([], [1]))
    .initializer('half', f32([], [0.5]))
    .node('MatMul', ['x', 'w'], ['m'])
    .node('Div', ['m', 'sqrt2'], ['d'])
    .node('Erf', ['d'], ['e'])
    .node('Add', ['e', 'one'], ['a'])
    .node('Mul', ['m', 'a'], ['p'])
    .node('Mul', ['p', 'half'], ['y'])
    .output('y', 'float32', ['batch', 4])
    .build();
}

/**
 * Several inputs and outputs of the awkward dtypes: int64 ids, a float16 scale, a bool mask
 * and int8 values → total (int64, ReduceSum), scaled (float16), kept (bool, And), wide
 * (float32, Cast from int8).
 */
export function mixedDtypeModel(): Uint8Array {
  return new OnnxModelBuilder('mixed', 17)
    .input('ids', 'int64', ['batch', 3])
    .input('scale', 'float16', [1])
    .input('mask', 'bool', ['batch', 3])
    .input('q', 'int8', ['batch', 3])
    .initializer('axes', { dtype: 'int64', dims: [1], data: BigInt64Array.of(1n) })
    .initializer('all', { dtype: 'bool', dims: [3], data: Uint8Array.of(1, 0, 1) })
    .node('ReduceSum', ['ids', 'axes'], ['total'], { keepdims: 0 })
    .node('Cast', ['ids'], ['ids16'], { to: 10 })
    .node('Mul', ['ids16', 'scale'], ['scaled'])
    .node('And', ['mask', 'all'], ['kept'])
    .node('Cast', ['q'], ['wide'], { to: 1 })
    .output('total', 'int64', ['batch'])
    .output('scaled', 'float16', ['batch', 3])
    .output('kept', 'bool', ['batch', 3])
    .output('wide', 'float32', ['batch', 3])
    .build();
}

/** A stateful accumulator: state_out = state_in + x, y = 2·state_out (state fed back by the caller). */
export function statefulModel(): Uint8Array {
  return new OnnxModelBuilder('accumulator')
    .input('x', 'float32', [1, 2])
    .input('state_in', 'float32', [1, 2])
    .initializer('two', f32([], [2]))
    .node('Add', ['state_in', 'x'], ['state_out'])
    .node('Mul', ['state_out', 'two'], ['y'])
    .output('y', 'float32', [1, 2])
    .output('state_out', 'float32', [1, 2])
    .build();
}

/** Writes `bytes` to `dir/name` and returns the path. */
export function writeModel(dir: string, name: string, bytes: Uint8Array | string): string {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, name);
  writeFileSync(path, bytes);
  return path;
}

/** Plain numbers of a float32/float64/int tensor. */
export function values(t: HostTensor | undefined): number[] {
  if (!t) throw new Error('no tensor');
  return Array.from(t.data as Float32Array, Number);
}

/** The largest |a - b|. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs((a[i] as number) - (b[i] as number)));
  return m;
}

export type { TensorMap };

/**
 * y = Reshape(x, [1000]) for x of dynamic length: it runs only when x has exactly 1000
 * elements, which no warm-up size made from its metadata gives (it needs real inputs).
 */
export function needsRealInputsModel(): Uint8Array {
  return new OnnxModelBuilder('needs-1000')
    .input('x', 'float32', [-1])
    .output('y', 'float32', [1000])
    .initializer('shape', { dtype: 'int64', dims: [1], data: BigInt64Array.from([1000n]) })
    .node('Reshape', ['x', 'shape'], ['y'])
    .build();
}
