import type { TENSOR_DTYPES } from '../../shared/index.js';

/** A tensor element type (the manifest's `TENSOR_DTYPES`). */
export type TensorDtype = (typeof TENSOR_DTYPES)[number];

/** The typed storage of a tensor's elements, row-major. */
export type TensorData =
  | Float32Array
  | Float64Array
  | Int8Array
  | Uint8Array
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | BigInt64Array
  | BigUint64Array
  | string[];

/**
 * A tensor in host memory, the one form every engine reads and writes. `float16` holds the
 * raw IEEE half bits in a Uint16Array (Node 20 has no Float16Array); `bool` holds 0/1 bytes
 * in a Uint8Array (onnxruntime's own layout).
 */
export interface HostTensor {
  readonly dtype: TensorDtype;
  readonly dims: readonly number[];
  readonly data: TensorData;
}

/** Named tensors: a model's inputs or outputs. */
export type TensorMap = Record<string, HostTensor>;

/** Number of elements of a shape (1 for a scalar). */
export function elementCount(dims: readonly number[]): number {
  let n = 1;
  for (const d of dims) n *= d;
  return n;
}

/** Bytes per element of each fixed-size dtype; `string` has none. */
export const DTYPE_BYTES: Record<Exclude<TensorDtype, 'string'>, number> = {
  float32: 4,
  float16: 2,
  float64: 8,
  int8: 1,
  uint8: 1,
  int16: 2,
  uint16: 2,
  int32: 4,
  uint32: 4,
  int64: 8,
  uint64: 8,
  bool: 1,
};

type TypedCtor = {
  new (length: number): Exclude<TensorData, string[]>;
  new (buffer: ArrayBufferLike, byteOffset: number, length: number): Exclude<TensorData, string[]>;
};

const CTORS: Record<Exclude<TensorDtype, 'string'>, TypedCtor> = {
  float32: Float32Array,
  float16: Uint16Array,
  float64: Float64Array,
  int8: Int8Array,
  uint8: Uint8Array,
  int16: Int16Array,
  uint16: Uint16Array,
  int32: Int32Array,
  uint32: Uint32Array,
  int64: BigInt64Array,
  uint64: BigUint64Array,
  bool: Uint8Array,
};

/** A zero-filled typed array of `length` elements for a fixed-size dtype. */
export function allocate(
  dtype: Exclude<TensorDtype, 'string'>,
  length: number,
): Exclude<TensorData, string[]> {
  return new CTORS[dtype](length);
}

/**
 * A typed view of `length` elements of `dtype` over little-endian `bytes` (copied when the
 * offset is not aligned for the element size, so the view is always valid).
 */
export function viewOf(
  dtype: Exclude<TensorDtype, 'string'>,
  bytes: Uint8Array,
  length: number,
): Exclude<TensorData, string[]> {
  const size = DTYPE_BYTES[dtype];
  if (bytes.byteOffset % size === 0) return new CTORS[dtype](bytes.buffer, bytes.byteOffset, length);
  const copy = new Uint8Array(length * size);
  copy.set(bytes.subarray(0, length * size));
  return new CTORS[dtype](copy.buffer, 0, length);
}

/** The raw little-endian bytes of a fixed-size tensor (a view, no copy). */
export function bytesOf(tensor: HostTensor): Uint8Array {
  if (Array.isArray(tensor.data)) throw new TypeError('string tensors have no fixed-size bytes');
  const data = tensor.data as Exclude<TensorData, string[]>;
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

/** Describes a shape for messages: `[batch, 3]` style, dynamic dims by name or `?`. */
export function formatShape(dims: readonly (number | string)[]): string {
  return `[${dims.map((d) => (d === -1 ? '?' : String(d))).join(', ')}]`;
}
