import { OutpostError, type TensorValue } from '../../shared/index.js';
import type { ModelSignature } from '../signature/validate.js';
import type { TensorMap } from '../tensor/host-tensor.js';
import { allocate, elementCount } from '../tensor/host-tensor.js';
import { tensorFromJson } from '../tensor/json-codec.js';

/**
 * An input set from JSON: one map `{"x": {dtype, dims, data}}` or an array of them. Throws
 * `INFER_BAD_INPUT` naming the entry and tensor that is malformed.
 */
export function inputSetFromJson(json: unknown): TensorMap[] {
  const entries = Array.isArray(json) ? json : [json];
  return entries.map((entry, i) => {
    if (typeof entry !== 'object' || entry === null) {
      throw new OutpostError('INFER_BAD_INPUT', `input set entry ${i} is not an object of tensors`);
    }
    const out: TensorMap = {};
    for (const [name, value] of Object.entries(entry)) {
      try {
        out[name] = tensorFromJson(name, value as TensorValue);
      } catch (err) {
        throw new OutpostError('INFER_BAD_INPUT', `input set entry ${i}: ${(err as Error).message}`);
      }
    }
    return out;
  });
}

/** Size given to a dynamic dim of a generated input: 1 for the first (batch), else this. */
export const GENERATED_DYNAMIC_DIM = 64;

/** Zero inputs for a signature: dynamic first dims (batch) 1, other dynamic dims {@link GENERATED_DYNAMIC_DIM}. */
function zeroSet(signature: ModelSignature): TensorMap {
  const out: TensorMap = {};
  for (const spec of signature.inputs) {
    const dims = spec.shape.map((d, i) =>
      typeof d === 'number' && d >= 0 ? d : i === 0 ? 1 : GENERATED_DYNAMIC_DIM,
    );
    const count = elementCount(dims);
    out[spec.name] =
      spec.dtype === 'string'
        ? { dtype: 'string', dims, data: new Array<string>(count).fill('') }
        : { dtype: spec.dtype, dims, data: allocate(spec.dtype, count) };
  }
  return out;
}

/**
 * `count` generated input sets for a signature (a dynamic first dim as 1, other dynamic dims
 * as {@link GENERATED_DYNAMIC_DIM}, so convolutions and pooling have room): float inputs
 * uniform in [-1, 1) from a fixed seed (xorshift, reproducible), others zero. Used when no
 * input file is given; real data says more about accuracy, so the command says which it used.
 */
export function generatedInputSet(signature: ModelSignature, count: number, seed = 1): TensorMap[] {
  let s = seed >>> 0 || 1;
  const next = () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return ((s >>> 0) / 2 ** 32) * 2 - 1;
  };
  const sets: TensorMap[] = [];
  for (let n = 0; n < count; n++) {
    const set = zeroSet(signature);
    for (const t of Object.values(set)) {
      if (t.data instanceof Float32Array || t.data instanceof Float64Array) {
        for (let i = 0; i < t.data.length; i++) t.data[i] = next();
      }
    }
    sets.push(set);
  }
  return sets;
}
