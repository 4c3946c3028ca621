import type { ModelWeights, WeightTensor } from './types.js';

/** A tensor's expected name and shape (what a receiver checks an update against). */
export interface TensorShape {
  name: string;
  shape: number[];
}

/** Product of `shape` (1 for a scalar). */
export function sizeOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Zero tensors with the names and shapes of `like`. */
export function zerosLike(like: ReadonlyArray<TensorShape>): ModelWeights {
  return like.map((t) => ({ name: t.name, shape: [...t.shape], values: new Float32Array(sizeOf(t.shape)) }));
}

/** A deep copy of `w`. */
export function cloneWeights(w: ModelWeights): ModelWeights {
  return w.map((t) => ({ name: t.name, shape: [...t.shape], values: t.values.slice() }));
}

/** Names and shapes of `w`. */
export function shapesOf(w: ReadonlyArray<TensorShape>): TensorShape[] {
  return w.map((t) => ({ name: t.name, shape: [...t.shape] }));
}

/** True when `a` and `b` have the same tensors (names, shapes, order) and `a`'s values fit its shapes. */
export function sameShapes(a: ModelWeights, b: ReadonlyArray<TensorShape>): boolean {
  if (a.length !== b.length) return false;
  return a.every((t, i) => {
    const e = b[i] as TensorShape;
    return (
      t.name === e.name &&
      t.shape.length === e.shape.length &&
      t.shape.every((d, k) => d === e.shape[k]) &&
      t.values.length === sizeOf(e.shape)
    );
  });
}

function pairwise(a: ModelWeights, b: ModelWeights, what: string): void {
  if (!sameShapes(a, b)) throw new RangeError(`${what}: the two weight lists differ in names or shapes`);
}

/** `a − b`, tensor by tensor (a new list). Throws RangeError when the shapes differ. */
export function sub(a: ModelWeights, b: ModelWeights): ModelWeights {
  pairwise(a, b, 'sub');
  return a.map((t, i) => {
    const bv = (b[i] as WeightTensor).values;
    const out = new Float32Array(t.values.length);
    for (let k = 0; k < out.length; k++) out[k] = (t.values[k] as number) - (bv[k] as number);
    return { name: t.name, shape: [...t.shape], values: out };
  });
}

/** `a + b` (a new list). */
export function add(a: ModelWeights, b: ModelWeights): ModelWeights {
  pairwise(a, b, 'add');
  const out = cloneWeights(a);
  addScaled(out, b, 1);
  return out;
}

/** `acc += s·x` in place (the streaming accumulate of FedAvg); returns `acc`. */
export function addScaled(acc: ModelWeights, x: ModelWeights, s: number): ModelWeights {
  pairwise(acc, x, 'addScaled');
  for (let i = 0; i < acc.length; i++) {
    const a = (acc[i] as WeightTensor).values;
    const v = (x[i] as WeightTensor).values;
    for (let k = 0; k < a.length; k++) a[k] = (a[k] as number) + s * (v[k] as number);
  }
  return acc;
}

/** `w *= s` in place; returns `w`. */
export function scaleInPlace(w: ModelWeights, s: number): ModelWeights {
  for (const t of w) for (let k = 0; k < t.values.length; k++) t.values[k] = (t.values[k] as number) * s;
  return w;
}

/** L2 norm over every entry of every tensor (accumulated in float64). */
export function l2Norm(w: ModelWeights): number {
  let sum = 0;
  for (const t of w) for (let k = 0; k < t.values.length; k++) sum += (t.values[k] as number) ** 2;
  return Math.sqrt(sum);
}

/** Number of parameters (entries over all tensors). */
export function flatCount(w: ReadonlyArray<{ shape: number[] }>): number {
  let n = 0;
  for (const t of w) n += sizeOf(t.shape);
  return n;
}

/** All values in one Float32Array, tensors in order. */
export function flatten(w: ModelWeights): Float32Array {
  const out = new Float32Array(flatCount(w));
  let o = 0;
  for (const t of w) {
    out.set(t.values, o);
    o += t.values.length;
  }
  return out;
}

/** The inverse of {@link flatten}: `flat` cut into tensors shaped like `like`. */
export function unflatten(flat: Float32Array, like: ReadonlyArray<TensorShape>): ModelWeights {
  if (flat.length !== flatCount(like)) {
    throw new RangeError(`unflatten: ${flat.length} values for ${flatCount(like)} parameters`);
  }
  let o = 0;
  return like.map((t) => {
    const n = sizeOf(t.shape);
    const values = flat.slice(o, o + n);
    o += n;
    return { name: t.name, shape: [...t.shape], values };
  });
}
