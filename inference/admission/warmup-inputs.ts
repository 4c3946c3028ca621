import type { TensorSpec } from '../../shared/index.js';
import { allocate, elementCount, type HostTensor, type TensorMap } from '../tensor/host-tensor.js';

/**
 * Zero-valued inputs that fit a signature: fixed dims as declared, dynamic dims (named or -1)
 * as 1. Kept for callers that need the smallest fitting inputs (the quantizer's fallback).
 */
export function zeroInputs(inputs: readonly TensorSpec[]): TensorMap {
  const out: TensorMap = {};
  for (const spec of inputs)
    out[spec.name] = zeros(
      spec,
      spec.shape.map((d) => fixedDim(d) ?? 1),
    );
  return out;
}

/** Sizes tried, in order, for a dynamic dim that is not a batch dim; 1 last (many models need more). */
export const WARMUP_DIM_LADDER = [16, 64, 512, 1] as const;

/** Sample rate given to an integer scalar input named like one (`sr`, `sample_rate`, `rate`). */
export const WARMUP_SAMPLE_RATE = 16000;

/** One warm-up input set made from a model's metadata, with a label saying how it was chosen. */
export interface MetadataWarmup {
  /** e.g. `dynamic dims 64, batch 1` — recorded with the admission. */
  label: string;
  inputs: TensorMap;
}

function fixedDim(d: number | string): number | undefined {
  return typeof d === 'number' && d >= 0 ? d : undefined;
}

function zeros(spec: TensorSpec, dims: number[]): HostTensor {
  const count = elementCount(dims);
  return spec.dtype === 'string'
    ? { dtype: 'string', dims, data: new Array<string>(count).fill('') }
    : { dtype: spec.dtype, dims, data: allocate(spec.dtype, count) };
}

const INT_DTYPES = new Set(['int8', 'int16', 'int32', 'int64', 'uint8', 'uint16', 'uint32', 'uint64']);

/** A rank-0 integer input that reads as a sample rate gets a real rate; other scalars keep 0. */
function scalar(spec: TensorSpec): HostTensor {
  const t = zeros(spec, []);
  if (!INT_DTYPES.has(spec.dtype) || !/(^|_)(sr|sample_?rate|rate)$/i.test(spec.name)) return t;
  const data = t.data as unknown as { [i: number]: number | bigint };
  data[0] =
    spec.dtype === 'int64' || spec.dtype === 'uint64' ? BigInt(WARMUP_SAMPLE_RATE) : WARMUP_SAMPLE_RATE;
  return t;
}

/**
 * A dim is a batch dim when it is the first dynamic dim of an input of rank ≥ 2, or its name
 * says so (`batch…`, `N`). A named dim keeps one value across every input that uses the name.
 */
function batchNames(inputs: readonly TensorSpec[]): Set<string> {
  const names = new Set<string>();
  for (const spec of inputs) {
    const first = spec.shape.findIndex((d) => fixedDim(d) === undefined);
    spec.shape.forEach((d, i) => {
      if (typeof d !== 'string' || d === '') return;
      if (/batch|^n$/i.test(d) || (i === first && spec.shape.length >= 2)) names.add(d);
    });
  }
  return names;
}

/**
 * Warm-up inputs built from a model's metadata when there are no reference or sample
 * inputs: zeros with every batch dim 1 and every other dynamic dim set, in turn, to each size
 * of {@link WARMUP_DIM_LADDER}; integer scalars named like a sample rate get
 * {@link WARMUP_SAMPLE_RATE}. Models with no dynamic dims get one set.
 */
export function metadataWarmups(inputs: readonly TensorSpec[]): MetadataWarmup[] {
  const batch = batchNames(inputs);
  const hasOpen = inputs.some((s) =>
    s.shape.some((d, i) => {
      if (fixedDim(d) !== undefined) return false;
      if (typeof d === 'string' && d !== '') return !batch.has(d);
      return !(i === s.shape.findIndex((x) => fixedDim(x) === undefined) && s.shape.length >= 2);
    }),
  );
  const sizes = hasOpen ? WARMUP_DIM_LADDER : [1];
  return sizes.map((size) => {
    const set: TensorMap = {};
    for (const spec of inputs) {
      if (spec.shape.length === 0) {
        set[spec.name] = scalar(spec);
        continue;
      }
      const first = spec.shape.findIndex((d) => fixedDim(d) === undefined);
      const dims = spec.shape.map((d, i) => {
        const fixed = fixedDim(d);
        if (fixed !== undefined) return fixed;
        if (typeof d === 'string' && d !== '') return batch.has(d) ? 1 : size;
        return i === first && spec.shape.length >= 2 ? 1 : size;
      });
      set[spec.name] = zeros(spec, dims);
    }
    return { label: hasOpen ? `batch 1, other dynamic dims ${size}` : 'declared shapes', inputs: set };
  });
}
