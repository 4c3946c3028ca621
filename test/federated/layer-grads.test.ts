import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildMnistCnn, loadTf, mulberry32, type Samples, trainLocal } from '../../federated/index.js';
import { conv2dUnitStride } from '../../federated/trainer/conv-grad.js';
import { denseMatMul } from '../../federated/trainer/dense-grad.js';
import { selectBackend } from '../../federated/trainer/tf.js';
import { DIGIT_PIXELS, loadDigits } from '../../inference/index.js';

// The trainer's hand-written gradients of stride-1 Conv2D and Dense (forward convolutions and
// plain products, fast on the WASM backend) against TF.js's own gradients of tf.conv2d and
// tf.matMul on the cpu backend (Conv2DBackpropInput/Filter), run on both backends.

type Tf = Awaited<ReturnType<typeof loadTf>>['tf'];
type Tensor = ReturnType<Tf['tensor']>;

const BACKENDS = ['cpu', 'wasm'] as const;

function values(n: number, seed: number): Float32Array {
  const random = mulberry32(seed);
  return Float32Array.from({ length: n }, () => random() * 2 - 1);
}

function maxRelDiff(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let scale = 0;
  for (const v of b) scale = Math.max(scale, Math.abs(v));
  let worst = 0;
  for (let k = 0; k < a.length; k++) worst = Math.max(worst, Math.abs((a[k] as number) - (b[k] as number)));
  return worst / Math.max(scale, 1e-6);
}

/** Value and gradients of Σ r ⊙ f(x, w), r a fixed random tensor (so the output gradient is not uniform). */
function withGrads(tf: Tf, f: (x: Tensor, w: Tensor) => Tensor, x: Tensor, w: Tensor, r: Float32Array) {
  const value = f(x, w);
  const g = tf.grads((a: Tensor, b: Tensor) => tf.sum(tf.mul(f(a, b), tf.tensor(r, value.shape))) as never);
  const [dx, dw] = g([x, w]) as [Tensor, Tensor];
  return [value, dx, dw].map((t) => t.dataSync() as Float32Array);
}

interface ConvCase {
  x: [number, number, number, number];
  kernel: [number, number];
  filters: number;
  padding: 'same' | 'valid';
}

const CASES: ConvCase[] = [
  { x: [3, 9, 7, 2], kernel: [5, 5], filters: 3, padding: 'same' },
  // An even kernel: 'same' pads one more row and column at the bottom and right.
  { x: [2, 8, 6, 3], kernel: [4, 2], filters: 2, padding: 'same' },
  { x: [2, 7, 9, 2], kernel: [3, 2], filters: 4, padding: 'valid' },
];

/** The padding the trainer derives for a stride-1 convolution (TF's 'same': the odd pixel at the end). */
function padsOf(c: ConvCase) {
  if (c.padding === 'valid') return { top: 0, bottom: 0, left: 0, right: 0 };
  const [ph, pw] = [c.kernel[0] - 1, c.kernel[1] - 1];
  return {
    top: Math.floor(ph / 2),
    bottom: ph - Math.floor(ph / 2),
    left: Math.floor(pw / 2),
    right: pw - Math.floor(pw / 2),
  };
}

describe('hand-written layer gradients', () => {
  it("stride-1 Conv2D: value, input and kernel gradients equal TF.js's tf.conv2d on cpu, on both backends", async () => {
    const { tf } = await loadTf('wasm');
    await loadTf('cpu');
    for (const c of CASES) {
      const wShape = [c.kernel[0], c.kernel[1], c.x[3], c.filters];
      const xv = values(
        c.x.reduce((a, b) => a * b, 1),
        1,
      );
      const wv = values(
        wShape.reduce((a, b) => a * b, 1),
        2,
      );
      selectBackend(tf, 'cpu');
      const reference = tf.tidy(() => {
        const out = tf.conv2d(tf.tensor4d(xv, c.x), tf.tensor4d(wv, wShape as never), 1, c.padding);
        return withGrads(
          tf,
          (a, b) => tf.conv2d(a as never, b as never, 1, c.padding) as Tensor,
          tf.tensor(xv, c.x),
          tf.tensor(wv, wShape),
          values(out.size, 3),
        );
      });
      for (const backend of BACKENDS) {
        selectBackend(tf, backend);
        const ours = tf.tidy(() =>
          withGrads(
            tf,
            (a, b) => conv2dUnitStride(tf, a, b, padsOf(c), { input: true, kernel: true }),
            tf.tensor(xv, c.x),
            tf.tensor(wv, wShape),
            values((reference[0] as Float32Array).length, 3),
          ),
        );
        ['value', 'input gradient', 'kernel gradient'].forEach((what, i) => {
          const d = maxRelDiff(ours[i] as Float32Array, reference[i] as Float32Array);
          assert.ok(d < 1e-5, `${backend} ${JSON.stringify(c)} ${what}: differs by ${d}`);
        });
      }
    }
  });

  it("Dense: value, input and kernel gradients equal TF.js's tf.matMul on cpu, on both backends", async () => {
    const { tf } = await loadTf('wasm');
    await loadTf('cpu');
    const [xv, wv, rv] = [values(4 * 37, 4), values(37 * 11, 5), values(4 * 11, 6)];
    selectBackend(tf, 'cpu');
    const reference = tf.tidy(() =>
      withGrads(tf, (a, b) => tf.matMul(a, b), tf.tensor(xv, [4, 37]), tf.tensor(wv, [37, 11]), rv),
    );
    for (const backend of BACKENDS) {
      selectBackend(tf, backend);
      const ours = tf.tidy(() =>
        withGrads(
          tf,
          (a, b) => denseMatMul(tf, a, b, { input: true, kernel: true }),
          tf.tensor(xv, [4, 37]),
          tf.tensor(wv, [37, 11]),
          rv,
        ),
      );
      ['value', 'input gradient', 'kernel gradient'].forEach((what, i) => {
        const d = maxRelDiff(ours[i] as Float32Array, reference[i] as Float32Array);
        assert.ok(d < 1e-5, `${backend} Dense ${what}: differs by ${d}`);
      });
    }
  });

  it('a gradient the step does not need is zeros (the layers below have no trained weights, or the layer is frozen)', async () => {
    const { tf } = await loadTf('cpu');
    const x = tf.tensor(values(2 * 5 * 5 * 1, 7), [2, 5, 5, 1]);
    const w = tf.tensor(values(3 * 3 * 1 * 2, 8), [3, 3, 1, 2]);
    const pads = { top: 1, bottom: 1, left: 1, right: 1 };
    const [dx, dw] = tf.grads((a: Tensor, b: Tensor) =>
      tf.sum(conv2dUnitStride(tf, a, b, pads, { input: false, kernel: true })),
    )([x, w]);
    assert.ok(dx?.dataSync().every((v) => v === 0));
    assert.ok(dw?.dataSync().some((v) => v !== 0));
    const [dx2, dw2] = tf.grads((a: Tensor, b: Tensor) =>
      tf.sum(denseMatMul(tf, a, b, { input: true, kernel: false })),
    )([tf.reshape(x, [2, 25]), tf.tensor(values(25 * 2, 9), [25, 2])]);
    assert.ok(dx2?.dataSync().some((v) => v !== 0));
    assert.ok(dw2?.dataSync().every((v) => v === 0));
  });

  it("McMahan's CNN: a batch-10 SGD step on wasm equals the same step on cpu", async () => {
    const set = loadDigits(1, 60);
    const samples: Samples = {
      x: set.pixels,
      y: set.labels,
      count: set.labels.length,
      features: DIGIT_PIXELS,
    };
    const model = buildMnistCnn(4, { filters: [6, 8], dense: 24 });
    const options = { model, samples, lr: 0.1, epochs: 1, batchSize: 10, seed: 2 };
    const [cpu, wasm] = [await trainLocal({ ...options, backend: 'cpu' }), await trainLocal(options)];
    assert.equal(wasm.backend, 'wasm');
    cpu.weights.forEach((w, i) => {
      const before0 = model.weights[i]?.values as Float32Array;
      const step = (v: Float32Array) => v.map((x, k) => x - (before0[k] as number));
      const d = maxRelDiff(step(wasm.weights[i]?.values as Float32Array), step(w.values));
      assert.ok(d < 1e-4, `${w.name}: the wasm step differs from cpu's by ${d} (relative)`);
    });
  });
});
