import { OutpostError, type TensorValue } from '../../shared/index.js';
import { zeroInputs } from '../admission/warmup-inputs.js';
import type { ModelSignature } from '../signature/validate.js';
import type { TensorMap } from '../tensor/host-tensor.js';
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

/**
 * `count` generated input sets for a signature (dynamic dims as 1): float inputs uniform in
 * [-1, 1) from a fixed seed (xorshift, reproducible), others zero. Used when no input file
 * is given; real data says more about accuracy, so the command says which it used.
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
    const set = zeroInputs(signature.inputs);
    for (const t of Object.values(set)) {
      if (t.data instanceof Float32Array || t.data instanceof Float64Array) {
        for (let i = 0; i < t.data.length; i++) t.data[i] = next();
      }
    }
    sets.push(set);
  }
  return sets;
}
