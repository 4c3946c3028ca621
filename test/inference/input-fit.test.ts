import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  assertInputs,
  inputProblems,
  inputsFit,
  type ModelSignature,
  type TensorMap,
} from '../../inference/index.js';

// The message-free check every inference runs must agree with the full problem list:
// a call fits exactly when no problem is found.

const signature: ModelSignature = {
  inputs: [
    { name: 'x', dtype: 'float32', shape: ['batch', 4] },
    { name: 'mask', dtype: 'int64', shape: ['batch', -1] },
    { name: 'sr', dtype: 'int64', shape: [] },
  ],
  outputs: [{ name: 'y', dtype: 'float32', shape: ['batch', 2] }],
};

const f32 = (dims: number[]) => ({
  dtype: 'float32' as const,
  dims,
  data: new Float32Array(dims.reduce((a, b) => a * b, 1)),
});
const i64 = (dims: number[]) => ({
  dtype: 'int64' as const,
  dims,
  data: new BigInt64Array(dims.reduce((a, b) => a * b, 1)),
});

const cases: Array<[string, TensorMap]> = [
  ['fits', { x: f32([2, 4]), mask: i64([2, 7]), sr: i64([]) }],
  ['fits in another key order', { sr: i64([]), mask: i64([3, 1]), x: f32([3, 4]) }],
  ['missing input', { x: f32([2, 4]), mask: i64([2, 7]) }],
  ['unknown extra input', { x: f32([2, 4]), mask: i64([2, 7]), sr: i64([]), extra: f32([1]) }],
  ['unknown name instead of a declared one', { x: f32([2, 4]), mask: i64([2, 7]), rate: i64([]) }],
  ['wrong dtype', { x: i64([2, 4]), mask: i64([2, 7]), sr: i64([]) }],
  ['wrong rank', { x: f32([2, 4, 1]), mask: i64([2, 7]), sr: i64([]) }],
  ['wrong fixed dim', { x: f32([2, 5]), mask: i64([2, 7]), sr: i64([]) }],
  ['named dim bound to two sizes', { x: f32([2, 4]), mask: i64([3, 7]), sr: i64([]) }],
  ['scalar given a rank', { x: f32([2, 4]), mask: i64([2, 7]), sr: i64([1]) }],
];

describe('inputsFit', () => {
  for (const [label, inputs] of cases) {
    it(`agrees with inputProblems: ${label}`, () => {
      const problems = inputProblems(signature, inputs);
      assert.equal(inputsFit(signature, inputs), problems.length === 0, JSON.stringify(problems));
      if (problems.length > 0) {
        assert.throws(
          () => assertInputs(signature, inputs, 'm'),
          (err: Error & { code?: string }) =>
            err.code === 'INFER_BAD_INPUT' && err.message.includes(`input "${problems[0]?.tensor}"`),
        );
      } else assertInputs(signature, inputs, 'm');
    });
  }
  it('the first two cases fit and the rest do not', () => {
    assert.deepEqual(
      cases.map(([, inputs]) => inputsFit(signature, inputs)),
      cases.map((_, i) => i < 2),
    );
  });
});
