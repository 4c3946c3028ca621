import type { ReferenceMismatch, TensorValue } from '../../shared/index.js';
import { fromHalfBits } from '../tensor/float16.js';
import type { HostTensor, TensorMap } from '../tensor/host-tensor.js';
import { tensorFromJson } from '../tensor/json-codec.js';

/** |a − b| ≤ abs + rel·|b| (b: the reference), the manifest's ReferenceSchema rule. */
export interface Tolerance {
  abs: number;
  rel: number;
}

function numbers(t: HostTensor): Array<number | string> {
  const { data, dtype } = t;
  if (Array.isArray(data)) return data;
  if (dtype === 'float16') return Array.from(data as Uint16Array, fromHalfBits);
  if (data instanceof BigInt64Array || data instanceof BigUint64Array) return Array.from(data, Number);
  return Array.from(data as Float32Array);
}

const sameShape = (a: readonly number[], b: readonly number[]) =>
  a.length === b.length && a.every((d, i) => d === b[i]);

/**
 * Compares a run's outputs with the reference outputs. Returns the first output that
 * disagrees, with its worst element (largest excess over the tolerance) and the largest
 * absolute difference; undefined when every reference output agrees. NaN agrees with NaN.
 */
export function compareWithReference(
  outputs: TensorMap,
  reference: Record<string, TensorValue>,
  tolerance: Tolerance,
): ReferenceMismatch | undefined {
  for (const [name, value] of Object.entries(reference)) {
    const expected = tensorFromJson(name, value);
    const got = outputs[name];
    const whole = (exp: string, rec: string): ReferenceMismatch => ({
      output: name,
      index: -1,
      expected: exp,
      received: rec,
      maxAbsDiff: null,
      tolerance,
    });
    if (!got) return whole(`${expected.dtype} ${JSON.stringify(expected.dims)}`, 'no such output');
    if (got.dtype !== expected.dtype || !sameShape(got.dims, expected.dims)) {
      return whole(
        `${expected.dtype} ${JSON.stringify(expected.dims)}`,
        `${got.dtype} ${JSON.stringify(got.dims)}`,
      );
    }
    const a = numbers(got);
    const b = numbers(expected);
    let worst = -1;
    let worstExcess = 0;
    let maxAbsDiff = 0;
    for (let i = 0; i < b.length; i++) {
      const x = a[i] as number | string;
      const y = b[i] as number | string;
      if (typeof x === 'string' || typeof y === 'string') {
        if (x !== y && worst === -1) worst = i;
        continue;
      }
      if (Number.isNaN(x) && Number.isNaN(y)) continue;
      const diff = x === y ? 0 : Math.abs(x - y);
      if (!(diff <= maxAbsDiff)) maxAbsDiff = Number.isNaN(diff) ? Number.POSITIVE_INFINITY : diff;
      const excess = Number.isNaN(diff)
        ? Number.POSITIVE_INFINITY
        : diff - (tolerance.abs + tolerance.rel * Math.abs(y));
      if (excess > worstExcess) {
        worstExcess = excess;
        worst = i;
      }
    }
    if (worst !== -1) {
      const show = (v: number | string | undefined) =>
        typeof v === 'number' && !Number.isFinite(v) ? String(v) : (v ?? null);
      return {
        output: name,
        index: worst,
        expected: show(b[worst]),
        received: show(a[worst]),
        maxAbsDiff: Number.isFinite(maxAbsDiff) ? maxAbsDiff : null,
        tolerance,
      };
    }
  }
  return undefined;
}

/** One line for logs and errors: which output, the worst element, the max abs diff, the tolerance. */
export function describeMismatch(m: ReferenceMismatch): string {
  const tol = `tolerance abs ${m.tolerance.abs} + rel ${m.tolerance.rel}`;
  if (m.index === -1) return `output "${m.output}": expected ${m.expected}, received ${m.received}`;
  return (
    `output "${m.output}" disagrees with the reference: element ${m.index} is ${m.received}, ` +
    `expected ${m.expected}; max abs diff ${m.maxAbsDiff ?? 'n/a'} exceeds ${tol}`
  );
}
