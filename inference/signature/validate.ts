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

/**
 * True when `inputs` fit the signature: the same rules as {@link inputProblems} (every
 * declared input present with its dtype, rank and fixed dims, named dims bound consistently,
 * no other names), checked without building any message, so a call that fits pays only a
 * few comparisons per dim.
 */
export function inputsFit(signature: ModelSignature, inputs: TensorMap): boolean {
  const specs = signature.inputs;
  let given = 0;
  for (const name in inputs) if (Object.hasOwn(inputs, name)) given++;
  // Every declared name present and as many names given: no unknown name.
  if (given !== specs.length) return false;
  let bound: Map<string, number> | undefined;
  for (const spec of specs) {
    const t = inputs[spec.name];
    if (t === undefined || t.dtype !== spec.dtype) return false;
    const { shape } = spec;
    const { dims } = t;
    if (dims.length !== shape.length) return false;
    for (let axis = 0; axis < shape.length; axis++) {
      const dim = shape[axis];
      const got = dims[axis] as number;
      if (typeof dim === 'number') {
        if (dim >= 0 && dim !== got) return false;
      } else if (dim !== '') {
        bound ??= new Map();
        const prev = bound.get(dim as string);
        if (prev === undefined) bound.set(dim as string, got);
        else if (prev !== got) return false;
      }
    }
  }
  return true;
}

/** Throws `INFER_BAD_INPUT` listing every {@link inputProblems} (details: the problem objects). */
export function assertInputs(signature: ModelSignature, inputs: TensorMap, model = 'model'): void {
  if (inputsFit(signature, inputs)) return;
  const problems = inputProblems(signature, inputs);
  if (problems.length === 0) return;
  throw new OutpostError('INFER_BAD_INPUT', `${model}: ${problems.map(describe).join('; ')}`, {
    details: problems,
  });
}
