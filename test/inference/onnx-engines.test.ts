import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import {
  ENGINES,
  type EngineSettings,
  fromHalfArray,
  readOnnxSignature,
  toHalfArray,
} from '../../inference/index.js';
import {
  classifierModel,
  f32,
  matmulBias,
  maxAbsDiff,
  mixedDtypeModel,
  statefulModel,
  values,
} from '../helpers/models.js';

// ONNX models of every shape of difficulty, on the real onnxruntime engines
// that run on this machine (onnx:cpu, onnx-web:wasm). Contract: both give the same outputs.

const settings: EngineSettings = {
  intraOpThreads: 1,
  interOpThreads: 1,
  options: {},
  log: pino({ level: 'silent' }),
};
const runnable = ['onnx:cpu', 'onnx-web:wasm'] as const;

describe('ONNX engines', () => {
  for (const name of runnable) {
    it(`${name}: a classifier with dynamic batch and two outputs matches float64 ground truth`, async () => {
      const { bytes, w, b } = classifierModel();
      const model = await ENGINES[name].load({ format: 'onnx', bytes }, settings);
      try {
        assert.deepEqual(model.signature, readOnnxSignature(bytes));
        assert.deepEqual(model.signature.inputs, [{ name: 'x', dtype: 'float32', shape: ['batch', 4] }]);
        for (const batch of [1, 5]) {
          const x = Array.from({ length: batch * 4 }, (_, i) => (i % 7) / 7 - 0.5);
          const out = await model.run({ x: f32([batch, 4], x) });
          assert.deepEqual(out.logits?.dims, [batch, 3]);
          assert.ok(maxAbsDiff(values(out.logits), matmulBias(x, batch, 4, w, 3, b)) < 1e-5);
          const probs = values(out.probs);
          for (let r = 0; r < batch; r++) {
            const sum = probs.slice(r * 3, r * 3 + 3).reduce((s, v) => s + v, 0);
            assert.ok(Math.abs(sum - 1) < 1e-5, `row ${r} sums to ${sum}`);
          }
        }
      } finally {
        await model.close();
      }
    });

    it(`${name}: a stateful model whose state output feeds the next call`, async () => {
      const model = await ENGINES[name].load({ format: 'onnx', bytes: statefulModel() }, settings);
      try {
        let state = f32([1, 2], [0, 0]);
        const seen: number[][] = [];
        for (const step of [1, 2, 3]) {
          const out = await model.run({ x: f32([1, 2], [step, -step]), state_in: state });
          state = out.state_out as typeof state;
          seen.push(values(out.y));
        }
        assert.deepEqual(seen, [
          [2, -2],
          [6, -6],
          [12, -12],
        ]);
      } finally {
        await model.close();
      }
    });
  }

  it('onnx:cpu: int64, float16, bool and int8 inputs and outputs', async () => {
    const bytes = mixedDtypeModel();
    const model = await ENGINES['onnx:cpu'].load({ format: 'onnx', bytes }, settings);
    try {
      assert.deepEqual(
        model.signature.outputs.map((o) => [o.name, o.dtype]),
        [
          ['total', 'int64'],
          ['scaled', 'float16'],
          ['kept', 'bool'],
          ['wide', 'float32'],
        ],
      );
      const out = await model.run({
        ids: { dtype: 'int64', dims: [2, 3], data: BigInt64Array.of(1n, 2n, 3n, 10n, 20n, 2n ** 40n) },
        scale: { dtype: 'float16', dims: [1], data: toHalfArray([0.5]) },
        mask: { dtype: 'bool', dims: [2, 3], data: Uint8Array.of(1, 1, 0, 0, 1, 1) },
        q: { dtype: 'int8', dims: [2, 3], data: Int8Array.of(-128, 0, 127, 5, -5, 1) },
      });
      assert.deepEqual(Array.from(out.total?.data as BigInt64Array), [6n, 30n + 2n ** 40n]);
      assert.equal(out.scaled?.dtype, 'float16');
      assert.deepEqual(
        Array.from(fromHalfArray(out.scaled?.data as Uint16Array)).slice(0, 5),
        [0.5, 1, 1.5, 5, 10],
      );
      assert.deepEqual(Array.from(out.kept?.data as Uint8Array), [1, 0, 0, 0, 0, 1]);
      assert.deepEqual(values(out.wide), [-128, 0, 127, 5, -5, 1]);
    } finally {
      await model.close();
    }
  });

  it('a TF.js engine refuses an ONNX model and an ONNX engine refuses garbage, with the runtime error', async () => {
    await assert.rejects(
      ENGINES['tfjs:cpu'].load({ format: 'onnx', bytes: new Uint8Array(4) }, settings),
      /reads TF\.js models/,
    );
    await assert.rejects(
      ENGINES['onnx:cpu'].load({ format: 'onnx', bytes: Uint8Array.from([1, 2, 3, 4, 5]) }, settings),
      /protobuf|parse|model/i,
    );
  });
});
