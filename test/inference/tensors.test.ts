import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  assertInputs,
  decodeTensors,
  digestTensors,
  encodeTensors,
  fromHalfBits,
  readOnnxSignature,
  type TensorMap,
  tensorFromJson,
  tensorToJson,
  toHalfBits,
} from '../../inference/index.js';
import type { OutpostError } from '../../shared/index.js';
import { classifierModel, f32, mixedDtypeModel } from '../helpers/models.js';

describe('tensor codecs', () => {
  it('JSON round-trips every fixed-size dtype, int64 beyond 2^53 as a decimal string, NaN as a string', () => {
    const cases = [
      { dtype: 'float32', dims: [2, 2], data: [1.5, -2, 'NaN', 'Infinity'] },
      { dtype: 'float16', dims: [3], data: [0.5, -65504, 2 ** -14] },
      { dtype: 'float64', dims: [1], data: [Math.PI] },
      { dtype: 'int8', dims: [2], data: [-128, 127] },
      { dtype: 'uint8', dims: [2], data: [0, 255] },
      { dtype: 'int32', dims: [1], data: [-(2 ** 31)] },
      { dtype: 'int64', dims: [3], data: [1, -5, '9007199254740993'] },
      { dtype: 'uint64', dims: [1], data: ['18446744073709551615'] },
      { dtype: 'bool', dims: [3], data: [true, false, true] },
      { dtype: 'string', dims: [2], data: ['a', 'b'] },
    ] as const;
    for (const c of cases) {
      const value = { dtype: c.dtype, dims: [...c.dims], data: [...c.data] };
      assert.deepEqual(tensorToJson(tensorFromJson('t', value)), value, c.dtype);
    }
  });

  it('float16 conversion rounds to nearest even and keeps subnormals, infinities and NaN', () => {
    assert.equal(fromHalfBits(toHalfBits(1 + 2 ** -11)), 1); // tie rounds to even
    assert.equal(fromHalfBits(toHalfBits(1 + 3 * 2 ** -11)), 1 + 2 ** -9);
    assert.equal(fromHalfBits(toHalfBits(2 ** -24)), 2 ** -24);
    assert.equal(fromHalfBits(toHalfBits(1e6)), Number.POSITIVE_INFINITY);
    assert.ok(Number.isNaN(fromHalfBits(toHalfBits(Number.NaN))));
  });

  it('JSON errors name the tensor and the element', () => {
    assert.throws(
      () => tensorFromJson('ids', { dtype: 'int8', dims: [2], data: [1, 300] }),
      (e: OutpostError) =>
        e.code === 'INFER_BAD_INPUT' &&
        /ids: element 1 \(300\) is not an int8 integer in \[-128, 127\]/.test(e.message),
    );
    assert.throws(
      () => tensorFromJson('x', { dtype: 'float32', dims: [2, 2], data: [1, 2, 3] }),
      /x: dims \[2,2\] need 4 elements, received 3/,
    );
    assert.throws(
      () => tensorFromJson('m', { dtype: 'bool', dims: [1], data: [2] }),
      /m: element 0 \(2\) is not a boolean/,
    );
  });

  it('the binary form round-trips tensors and header fields, and names what is malformed', () => {
    const tensors: TensorMap = {
      x: f32([2, 3], [1, 2, 3, 4, 5, 6]),
      ids: { dtype: 'int64', dims: [3], data: BigInt64Array.of(1n, -2n, 2n ** 60n) },
      m: { dtype: 'bool', dims: [1], data: Uint8Array.of(1) },
    };
    const body = encodeTensors(tensors, { preprocessing: 'v2' });
    const back = decodeTensors(body);
    assert.equal(back.extra.preprocessing, 'v2');
    for (const [k, v] of Object.entries(tensors))
      assert.deepEqual(tensorToJson(back.tensors[k] as never), tensorToJson(v), k);
    assert.throws(() => decodeTensors(Buffer.from('nope')), /does not start with "OTB1"/);
    const truncated = body.subarray(0, body.byteLength - 8);
    assert.throws(
      () => decodeTensors(truncated),
      /ids: bytes \[\d+, \+24\) lie outside the payload|m: bytes/,
    );
  });

  it('the input digest ignores input order and transport, and sees every byte', () => {
    const a = { x: f32([1, 2], [1, 2]), y: f32([1], [3]) };
    const b = { y: f32([1], [3]), x: f32([1, 2], [1, 2]) };
    assert.equal(digestTensors(a), digestTensors(b));
    assert.equal(digestTensors(a), digestTensors(decodeTensors(encodeTensors(a)).tensors));
    assert.notEqual(digestTensors(a), digestTensors({ ...a, y: f32([1], [3.0001]) }));
    assert.notEqual(digestTensors(a), digestTensors({ ...a, x: f32([2, 1], [1, 2]) }));
  });
});

describe('signatures', () => {
  it('are read from the ONNX graph: names, dtypes, named dynamic axes; weights are not inputs', () => {
    const sig = readOnnxSignature(mixedDtypeModel());
    assert.deepEqual(sig.inputs, [
      { name: 'ids', dtype: 'int64', shape: ['batch', 3] },
      { name: 'scale', dtype: 'float16', shape: [1] },
      { name: 'mask', dtype: 'bool', shape: ['batch', 3] },
      { name: 'q', dtype: 'int8', shape: ['batch', 3] },
    ]);
    assert.deepEqual(sig.outputs[0], { name: 'total', dtype: 'int64', shape: ['batch'] });
  });

  it('a wrong name, dtype or shape is an error naming the tensor, the expected and the received', () => {
    const sig = readOnnxSignature(classifierModel().bytes);
    const fail = (inputs: TensorMap, pattern: RegExp) =>
      assert.throws(
        () => assertInputs(sig, inputs, 'classifier'),
        (e: OutpostError) =>
          e.code === 'INFER_BAD_INPUT' && pattern.test(e.message) && Array.isArray(e.details),
      );
    fail(
      { X: f32([1, 4], [0, 0, 0, 0]) },
      /input "x": expected float32 \[batch, 4\], received nothing \(missing\).*input "X": expected one of "x", received an unknown input name/,
    );
    fail(
      { x: { dtype: 'int32', dims: [1, 4], data: new Int32Array(4) } },
      /input "x": expected dtype float32, received dtype int32/,
    );
    fail(
      { x: f32([1, 5], [0, 0, 0, 0, 0]) },
      /input "x": expected dim 1 = 4 in \[batch, 4\], received 5 in \[1, 5\]/,
    );
    fail({ x: f32([4], [0, 0, 0, 0]) }, /input "x": expected rank 2 \[batch, 4\], received rank 1 \[4\]/);
    assert.doesNotThrow(() => assertInputs(sig, { x: f32([3, 4], new Array(12).fill(0)) }));
  });

  it('a named dynamic axis must agree across inputs', () => {
    const sig = readOnnxSignature(mixedDtypeModel());
    assert.throws(
      () =>
        assertInputs(sig, {
          ids: { dtype: 'int64', dims: [2, 3], data: new BigInt64Array(6) },
          scale: { dtype: 'float16', dims: [1], data: new Uint16Array(1) },
          mask: { dtype: 'bool', dims: [3, 3], data: new Uint8Array(9) },
          q: { dtype: 'int8', dims: [2, 3], data: new Int8Array(6) },
        }),
      /input "mask": expected dim 0 "batch" = 2 \(as in input "ids"\), received 3/,
    );
  });
});
