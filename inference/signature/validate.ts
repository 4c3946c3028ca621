import { OutpostError, type TensorSpec } from '../../shared/index.js';
import { formatShape, type TensorMap } from '../tensor/host-tensor.js';

/** A model's inputs and outputs as the model itself declares them. */
export interface ModelSignature {
  inputs: TensorSpec[];
  outputs: TensorSpec[];
}

/** One way an input differs from the signature: which tensor, what was expected and received. */
export interface InputProblem {
  tensor: string;
  expected: string;
  received: string;
}

function describe(p: InputProblem): string {
  return `input "${p.tensor}": expected ${p.expected}, received ${p.received}`;
}

/**
 * Every difference between `inputs` and the signature's inputs: missing and unknown names,
 * dtypes, ranks, fixed dims, and a named dynamic dim (e.g. `batch`) bound to different sizes
 * by different inputs. Empty when the inputs fit.
 */
export function inputProblems(signature: ModelSignature, inputs: TensorMap): InputProblem[] {
  const problems: InputProblem[] = [];
  const expectedNames = signature.inputs.map((s) => s.name);
  const bound = new Map<string, { size: number; by: string }>();
  for (const spec of signature.inputs) {
    const t = inputs[spec.name];
    if (!t) {
      problems.push({
        tensor: spec.name,
        expected: `${spec.dtype} ${formatShape(spec.shape)}`,
        received: 'nothing (missing)',
      });
      continue;
    }
    if (t.dtype !== spec.dtype) {
      problems.push({ tensor: spec.name, expected: `dtype ${spec.dtype}`, received: `dtype ${t.dtype}` });
    }
    if (t.dims.length !== spec.shape.length) {
      problems.push({
        tensor: spec.name,
        expected: `rank ${spec.shape.length} ${formatShape(spec.shape)}`,
        received: `rank ${t.dims.length} ${formatShape(t.dims)}`,
      });
      continue;
    }
    spec.shape.forEach((dim, axis) => {
      const got = t.dims[axis] as number;
      if (typeof dim === 'number' && dim >= 0 && dim !== got) {
        problems.push({
          tensor: spec.name,
          expected: `dim ${axis} = ${dim} in ${formatShape(spec.shape)}`,
          received: `${got} in ${formatShape(t.dims)}`,
        });
      } else if (typeof dim === 'string' && dim !== '') {
        const prev = bound.get(dim);
        if (prev && prev.size !== got) {
          problems.push({
            tensor: spec.name,
            expected: `dim ${axis} "${dim}" = ${prev.size} (as in input "${prev.by}")`,
            received: String(got),
          });
        } else if (!prev) bound.set(dim, { size: got, by: spec.name });
      }
    });
  }
  for (const name of Object.keys(inputs)) {
    if (!expectedNames.includes(name)) {
      problems.push({
        tensor: name,
        expected: `one of ${expectedNames.map((n) => `"${n}"`).join(', ')}`,
        received: 'an unknown input name',
      });
    }
  }
  return problems;
}

/** A fit test compiled from one signature (see {@link compileInputCheck}). */
export type InputCheck = (inputs: TensorMap) => boolean;

/**
 * Compiles the signature's inputs into a fit test, once per signature: names, dtypes and
 * fixed dims in flat arrays, and each named dynamic dim (e.g. `batch`) turned into "this
 * axis equals the axis where the name first appears". A call then pays a few comparisons
 * per dim and allocates nothing (no Map of bound names, no message). Same verdict as
 * {@link inputProblems} being empty.
 */
export function compileInputCheck(signature: ModelSignature): InputCheck {
  const specs = signature.inputs;
  const count = specs.length;
  const names = specs.map((s) => s.name);
  const dtypes = specs.map((s) => s.dtype);
  const ranks = specs.map((s) => s.shape.length);
  /** Per input, per axis: the fixed size, or -1 when the axis is dynamic. */
  const fixed = specs.map((s) => s.shape.map((d) => (typeof d === 'number' && d >= 0 ? d : -1)));
  /** Named dims after their first appearance: [input, axis, first input, first axis]. */
  const same: number[] = [];
  const firstSeen = new Map<string, [number, number]>();
  specs.forEach((spec, i) => {
    spec.shape.forEach((d, axis) => {
      if (typeof d !== 'string' || d === '') return;
      const first = firstSeen.get(d);
      if (first) same.push(i, axis, first[0], first[1]);
      else firstSeen.set(d, [i, axis]);
    });
  });
  const pairs = same.length;
  return (inputs) => {
    let given = 0;
    for (const name in inputs) if (Object.hasOwn(inputs, name)) given++;
    // Every declared name present and as many names given: no unknown name.
    if (given !== count) return false;
    for (let i = 0; i < count; i++) {
      const t = inputs[names[i] as string];
      if (t === undefined || t.dtype !== dtypes[i]) return false;
      const dims = t.dims;
      const rank = ranks[i] as number;
      if (dims.length !== rank) return false;
      const sizes = fixed[i] as number[];
      for (let axis = 0; axis < rank; axis++) {
        const size = sizes[axis] as number;
        if (size >= 0 && size !== dims[axis]) return false;
      }
    }
    for (let p = 0; p < pairs; p += 4) {
      const a = (inputs[names[same[p] as number] as string] as TensorMap[string]).dims[same[p + 1] as number];
      const b = (inputs[names[same[p + 2] as number] as string] as TensorMap[string]).dims[
        same[p + 3] as number
      ];
      if (a !== b) return false;
    }
    return true;
  };
}

/** Fit tests compiled per signature object, so callers that pass a signature compile it once. */
const compiled = new WeakMap<ModelSignature, InputCheck>();

/**
 * True when `inputs` fit the signature: the same rules as {@link inputProblems} (every
 * declared input present with its dtype, rank and fixed dims, named dims bound consistently,
 * no other names), checked without building any message, by the signature's compiled
 * {@link compileInputCheck} (compiled on first use, kept while the signature lives).
 */
export function inputsFit(signature: ModelSignature, inputs: TensorMap): boolean {
  let check = compiled.get(signature);
  if (check === undefined) {
    check = compileInputCheck(signature);
    compiled.set(signature, check);
  }
  return check(inputs);
}

/** Throws `INFER_BAD_INPUT` listing every {@link inputProblems} (details: the problem objects). */
export function assertInputs(signature: ModelSignature, inputs: TensorMap, model = 'model'): void {
  if (inputsFit(signature, inputs)) return;
  throwInputProblems(signature, inputs, model);
}

/**
 * Throws `INFER_BAD_INPUT` listing every {@link inputProblems} of inputs a fit test refused
 * (the slow path of a call that does not fit: only then are the messages built).
 */
export function throwInputProblems(signature: ModelSignature, inputs: TensorMap, model = 'model'): void {
  const problems = inputProblems(signature, inputs);
  if (problems.length === 0) return;
  throw new OutpostError('INFER_BAD_INPUT', `${model}: ${problems.map(describe).join('; ')}`, {
    details: problems,
  });
}
