import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import {
  type LayersModel,
  loadTf,
  mulberry32,
  parseLayerStack,
  type Samples,
  stackWeightShapes,
  trainLocal,
} from '../../federated/index.js';
import { forward } from '../../federated/trainer/forward.js';
import { DIGIT_PIXELS, loadDigits } from '../../inference/index.js';

// The trainer's gradients and SGD steps against TF.js's own layers model (`@tensorflow/tfjs`,
// cpu backend) built from the same JSON with the same weights, on real MNIST digits: Conv2D
// (same and valid padding, stride 1 and 2), max and average pooling, batch normalization
// (batch statistics and the moving-statistics update), dropout (same seed, same mask) and Dense
// with every activation the trainer knows.

type Tf = Awaited<ReturnType<typeof loadTf>>['tf'];
type Tensor = ReturnType<Tf['tensor']>;

const layer = (class_name: string, config: Record<string, unknown>) => ({
  class_name,
  config: { trainable: true, dtype: 'float32', ...config },
});

/** A small CNN with every layer kind; `dropoutSeed` undefined: no Dropout layer. */
function topology(dropoutSeed?: number): Record<string, unknown> {
  const layers = [
    layer('Reshape', { name: 'image', target_shape: [28, 28, 1], batch_input_shape: [null, 784] }),
    layer('Conv2D', {
      name: 'c1',
      filters: 3,
      kernel_size: [3, 3],
      strides: [1, 1],
      padding: 'same',
      activation: 'relu',
      use_bias: true,
    }),
    layer('BatchNormalization', {
      name: 'bn1',
      axis: -1,
      momentum: 0.9,
      epsilon: 1e-3,
      center: true,
      scale: true,
    }),
    layer('MaxPooling2D', { name: 'p1', pool_size: [2, 2], strides: [2, 2], padding: 'valid' }),
    layer('Conv2D', {
      name: 'c2',
      filters: 4,
      kernel_size: [3, 3],
      strides: [2, 2],
      padding: 'valid',
      activation: 'tanh',
      use_bias: true,
    }),
    layer('AveragePooling2D', { name: 'p2', pool_size: [2, 2], strides: [1, 1], padding: 'same' }),
    layer('Flatten', { name: 'flat' }),
    layer('Dense', { name: 'd1', units: 12, activation: 'sigmoid', use_bias: true }),
    layer('BatchNormalization', {
      name: 'bn2',
      axis: -1,
      momentum: 0.8,
      epsilon: 1e-3,
      center: true,
      scale: true,
    }),
    ...(dropoutSeed === undefined ? [] : [layer('Dropout', { name: 'drop', rate: 0.3, seed: dropoutSeed })]),
    layer('Dense', { name: 'out', units: 10, activation: 'softmax', use_bias: true }),
  ];
  return { class_name: 'Sequential', config: { name: 'grad_cnn', layers } };
}

function weightsFor(top: Record<string, unknown>, seed: number): LayersModel {
  const random = mulberry32(seed);
  const weights = stackWeightShapes(parseLayerStack(top)).map(({ name, shape }) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const values = new Float32Array(n);
    for (let k = 0; k < n; k++) {
      if (/moving_variance|gamma/.test(name)) values[k] = 0.6 + random();
      else if (/moving_mean|beta|bias/.test(name)) values[k] = (random() - 0.5) * 0.2;
      else values[k] = (random() * 2 - 1) * 0.4;
    }
    return { name, shape, values };
  });
  return { modelTopology: top, weights };
}

let digits: Samples;
before(() => {
  const set = loadDigits(3, 40);
  digits = { x: set.pixels, y: set.labels, count: set.labels.length, features: DIGIT_PIXELS };
});

/** TF.js's layers model of `m`: the weight list in `m`'s order (TF.js lists trainable ones first). */
async function tfjsModel(tf: Tf, m: LayersModel) {
  const model = await tf.models.modelFromJSON({ modelTopology: structuredClone(m.modelTopology) } as never);
  const base = (name: string) => name.replace(/_\d+$/, '');
  const byName = new Map(model.weights.map((w) => [w.originalName ?? base(w.name), w]));
  assert.deepEqual([...byName.keys()].sort(), m.weights.map((w) => w.name).sort());
  model.setWeights(
    model.weights.map((w) => {
      const mine = m.weights.find((x) => x.name === (w.originalName ?? base(w.name)));
      return tf.tensor(mine?.values as Float32Array, mine?.shape);
    }),
  );
  return { model, ordered: m.weights.map((w) => byName.get(w.name) as (typeof model.weights)[number]) };
}

function maxRelDiff(a: Float32Array, b: Float32Array): number {
  let scale = 0;
  for (const v of b) scale = Math.max(scale, Math.abs(v));
  let worst = 0;
  for (let k = 0; k < a.length; k++) worst = Math.max(worst, Math.abs((a[k] as number) - (b[k] as number)));
  return worst / Math.max(scale, 1e-6);
}

describe('trainer gradients against TF.js', () => {
  it('the gradient of every trained weight matches TF.js (conv, BN in training, pooling, dropout mask, dense)', async () => {
    const { tf } = await loadTf('cpu');
    const m = weightsFor(topology(1234), 5);
    const stack = parseLayerStack(m.modelTopology);
    const trained = stack.layers.flatMap((l) =>
      l.kind === 'batchnorm'
        ? [true, true, false, false]
        : l.kind === 'dense' || l.kind === 'conv2d'
          ? [true, true]
          : [],
    );
    const { model, ordered } = await tfjsModel(tf, m);
    const x = tf.tensor2d(digits.x, [digits.count, DIGIT_PIXELS]);
    const onehot = tf.oneHot(tf.tensor1d(digits.y, 'int32'), 10);

    const mine = m.weights.map((w) => tf.variable(tf.tensor(w.values, w.shape)));
    const ours = tf.variableGrads(
      () =>
        tf.losses.softmaxCrossEntropy(
          onehot,
          forward(tf, stack, mine, x, { training: true, nextSeed: () => 1234 }),
        ) as never,
      mine.filter((_, i) => trained[i]),
    );
    const theirs = tf.variableGrads(
      () => {
        const probs = model.apply(x, { training: true }) as Tensor;
        // Categorical cross-entropy of the softmax output, as model.fit computes it.
        return tf.neg(tf.mean(tf.sum(tf.mul(onehot, tf.log(probs)), -1))) as never;
      },
      ordered
        .filter((_, i) => trained[i])
        .map((w) => (w as unknown as { val: ReturnType<Tf['variable']> }).val),
    );
    let compared = 0;
    m.weights.forEach((w, i) => {
      if (!trained[i]) return;
      const a = ours.grads[(mine[i] as { name: string }).name]?.dataSync() as Float32Array;
      const b = theirs.grads[
        (ordered[i] as unknown as { val: { name: string } }).val.name
      ]?.dataSync() as Float32Array;
      assert.ok(a && b, `gradient of ${w.name}`);
      const d = maxRelDiff(a, b);
      assert.ok(d < 1e-4, `${w.name}: gradient differs by ${d} (relative to its largest entry)`);
      assert.ok(
        b.some((v) => v !== 0),
        `${w.name}: a gradient of zeros proves nothing`,
      );
      compared++;
    });
    assert.equal(compared, 12);
  });

  it('one full-batch SGD step of trainLocal equals model.fit, BN moving statistics included', async () => {
    const { tf } = await loadTf('cpu');
    const m = weightsFor(topology(), 8);
    const lr = 0.05;
    const r = await trainLocal({
      model: m,
      samples: digits,
      lr,
      epochs: 1,
      batchSize: digits.count,
      seed: 1,
      backend: 'cpu',
    });
    const { model, ordered } = await tfjsModel(tf, m);
    model.compile({ optimizer: tf.train.sgd(lr), loss: 'categoricalCrossentropy' });
    await model.fit(
      tf.tensor2d(digits.x, [digits.count, DIGIT_PIXELS]),
      tf.oneHot(tf.tensor1d(digits.y, 'int32'), 10),
      { batchSize: digits.count, epochs: 1, shuffle: false, verbose: 0 },
    );
    r.weights.forEach((w, i) => {
      const theirs = (ordered[i] as { read(): Tensor }).read().dataSync() as Float32Array;
      const before0 = m.weights[i]?.values as Float32Array;
      // Compare the steps (new − old), so a tiny step is not hidden by large weights.
      const ours = w.values.map((v, k) => v - (before0[k] as number));
      const ref = theirs.map((v, k) => v - (before0[k] as number));
      const d = maxRelDiff(ours, ref);
      assert.ok(d < 1e-3, `${w.name}: step differs by ${d} (relative)`);
      assert.ok(
        ref.some((v) => v !== 0),
        `${w.name} moved in TF.js`,
      );
    });
  });

  it('dropout in training: the seeded mask zeroes about `rate` of the units and scales the rest by 1/(1 − rate)', async () => {
    const { tf } = await loadTf('cpu');
    const top = {
      class_name: 'Sequential',
      config: {
        layers: [
          layer('Dense', {
            name: 'd',
            units: 400,
            activation: 'linear',
            batch_input_shape: [null, 1],
            use_bias: false,
          }),
          layer('Dropout', { name: 'drop', rate: 0.25 }),
          layer('Dense', { name: 'out', units: 2, activation: 'softmax', use_bias: false }),
        ],
      },
    };
    const stack = parseLayerStack(top);
    const kernel = tf.ones([1, 400]);
    const identity = tf.eye(400);
    // Read the dropout output: run the stack without its last layer.
    const head = { ...stack, layers: stack.layers.slice(0, 2) };
    const out = forward(tf, head, [kernel, identity], tf.ones([1, 1]), {
      training: true,
      nextSeed: () => 99,
    }).dataSync();
    const zeros = out.filter((v) => v === 0).length;
    assert.ok(zeros > 60 && zeros < 140, `${zeros} of 400 dropped at rate 0.25`);
    assert.ok(out.every((v) => v === 0 || Math.abs(v - 1 / 0.75) < 1e-6));
    const again = forward(tf, head, [kernel, identity], tf.ones([1, 1]), {
      training: true,
      nextSeed: () => 99,
    }).dataSync();
    assert.deepEqual(again, out, 'the same seed gives the same mask');
    const inference = forward(tf, head, [kernel, identity], tf.ones([1, 1]), { training: false }).dataSync();
    assert.ok(
      inference.every((v) => v === 1),
      'no dropout at inference',
    );
  });
});
