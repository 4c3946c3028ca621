import { OutpostError, type TensorValue } from '../../shared/index.js';
import { fromHalfBits, toHalfBits } from './float16.js';
import { allocate, elementCount, type HostTensor, type TensorData } from './host-tensor.js';

function bad(problems: string[]): OutpostError {
  return new OutpostError('INFER_BAD_INPUT', problems.join('; '), { details: problems });
}

function toBigInt(value: number | string | boolean, unsigned: boolean): bigint | undefined {
  if (typeof value === 'boolean') return undefined;
  if (typeof value === 'number' && !Number.isSafeInteger(value)) return undefined;
  if (typeof value === 'string' && !/^-?\d{1,20}$/.test(value)) return undefined;
  const big = BigInt(value);
  const lo = unsigned ? 0n : -(2n ** 63n);
  const hi = unsigned ? 2n ** 64n - 1n : 2n ** 63n - 1n;
  return big >= lo && big <= hi ? big : undefined;
}

/** Floats may carry these strings, since JSON has no such numbers. */
const NON_FINITE = new Set(['NaN', 'Infinity', '-Infinity']);

const INT_RANGES: Record<string, [number, number]> = {
  int8: [-128, 127],
  uint8: [0, 255],
  int16: [-32768, 32767],
  uint16: [0, 65535],
  int32: [-(2 ** 31), 2 ** 31 - 1],
  uint32: [0, 2 ** 32 - 1],
};

/**
 * A JSON tensor (`{dtype, dims, data}`, the manifest's TensorValue) as a {@link HostTensor}.
 * Ints must be integers in range (int64/uint64 also as decimal strings), bools booleans or
 * 0/1, floats numbers. Throws `INFER_BAD_INPUT` naming the tensor and the first bad element.
 */
export function tensorFromJson(name: string, value: TensorValue): HostTensor {
  const count = elementCount(value.dims);
  if (value.data.length !== count) {
    throw bad([
      `${name}: dims ${JSON.stringify(value.dims)} need ${count} elements, received ${value.data.length}`,
    ]);
  }
  const dtype = value.dtype;
  const fail = (i: number, what: string) =>
    bad([`${name}: element ${i} (${JSON.stringify(value.data[i])}) is not ${what}`]);
  if (dtype === 'string') {
    const out: string[] = [];
    value.data.forEach((v, i) => {
      if (typeof v !== 'string') throw fail(i, 'a string');
      out.push(v);
    });
    return { dtype, dims: [...value.dims], data: out };
  }
  const data: Exclude<TensorData, string[]> = allocate(dtype, count);
  for (let i = 0; i < count; i++) {
    const v = value.data[i] as number | string | boolean;
    if (dtype === 'int64' || dtype === 'uint64') {
      const big = toBigInt(v, dtype === 'uint64');
      if (big === undefined) throw fail(i, `an ${dtype} (a safe integer or a decimal string)`);
      (data as BigInt64Array | BigUint64Array)[i] = big;
    } else if (dtype === 'bool') {
      if (v !== true && v !== false && v !== 0 && v !== 1) throw fail(i, 'a boolean or 0/1');
      (data as Uint8Array)[i] = v === true || v === 1 ? 1 : 0;
    } else {
      const num = typeof v === 'string' && NON_FINITE.has(v) && !(dtype in INT_RANGES) ? Number(v) : v;
      if (typeof num !== 'number') throw fail(i, `a ${dtype} number`);
      const range = INT_RANGES[dtype];
      if (range && (!Number.isInteger(num) || num < range[0] || num > range[1])) {
        throw fail(i, `an ${dtype} integer in [${range[0]}, ${range[1]}]`);
      }
      if (dtype === 'float16') (data as Uint16Array)[i] = toHalfBits(num);
      else (data as Float32Array)[i] = num;
    }
  }
  return { dtype, dims: [...value.dims], data };
}

/**
 * A {@link HostTensor} as JSON: float16 as numbers, bool as booleans, int64/uint64 as
 * numbers when safe and decimal strings otherwise. Non-finite floats become the strings
 * `"NaN"`, `"Infinity"`, `"-Infinity"` (accepted back by {@link tensorFromJson}).
 */
export function tensorToJson(tensor: HostTensor): TensorValue {
  const out: Array<number | string | boolean> = [];
  const { dtype, data } = tensor;
  if (Array.isArray(data)) out.push(...data);
  else if (dtype === 'bool') for (const v of data as Uint8Array) out.push(v !== 0);
  else if (dtype === 'float16') for (const v of data as Uint16Array) out.push(finite(fromHalfBits(v)));
  else if (data instanceof BigInt64Array || data instanceof BigUint64Array) {
    for (const v of data)
      out.push(
        v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER)
          ? Number(v)
          : v.toString(),
      );
  } else for (const v of data as Float32Array) out.push(finite(v));
  return { dtype, dims: [...tensor.dims], data: out };
}

function finite(v: number): number | string {
  return Number.isFinite(v) ? v : String(v);
}
