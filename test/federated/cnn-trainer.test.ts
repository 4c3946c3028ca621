import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import {
  buildMnistCnn,
  evaluate,
  type LayersModel,
  loadTf,
  mulberry32,
  parseLayerStack,
  type Samples,
  trainLocal,
} from '../../federated/index.js';
import { DIGIT_PIXELS, loadDigits } from '../../inference/index.js';

// Conv2D, pooling, batch normalization and dropout in the TF.js trainer, against TF.js's own
// layers model built from the same JSON, on real MNIST digits.

let train: Samples;
let test: Samples;
before(() => {
  const a = loadDigits(10, 0);
  const b = loadDigits(10, 500);
  train = { x: a.pixels, y: a.labels, count: a.labels.length, features: DIGIT_PIXELS };
  test = { x: b.pixels, y: b.labels, count: b.labels.length, features: DIGIT_PIXELS };
});

const SMALL = { filters: [4, 8], dense: 16, batchNorm: true, dropout: 0.25 };
const named = (m: LayersModel, name: string) =>
  m.weights.find((w) => w.name === name)?.values as Float32Array;

/** A model whose BatchNormalization statistics are not the identity (so inference uses them). */
function perturbed(): LayersModel {
  const m = buildMnistCnn(3, SMALL);
  const random = mulberry32(11);
  for (const w of m.weights) {
    for (let k = 0; k < w.values.length; k++) {
      if (/moving_mean|beta/.test(w.name)) w.values[k] = (random() - 0.5) * 0.2;
      if (/moving_variance|gamma/.test(w.name)) w.values[k] = 0.5 + random();
    }
  }
  return m;
}

describe('CNN layers', () => {
  it("the trainer's forward pass matches TF.js's layers model (conv, BN, pool, dropout at inference)", async () => {
    const m = perturbed();
    const { tf } = await loadTf('cpu');
    const model = await tf.models.modelFromJSON({ modelTopology: m.modelTopology } as never);
    // TF.js lists trainable weights first; ours follow the layers (as Keras's get_weights()).
    assert.deepEqual(model.weights.map((w) => w.name).sort(), m.weights.map((w) => w.name).sort());
    model.setWeights(
      model.weights.map((w) => {
        const mine = m.weights.find((x) => x.name === w.name);
        return tf.tensor(mine?.values as Float32Array, mine?.shape);
      }),
    );
    const probs = (
      model.predict(tf.tensor2d(test.x, [test.count, DIGIT_PIXELS])) as ReturnType<typeof tf.tensor>
    ).dataSync();
    let ce = 0;
    let hits = 0;
    for (let i = 0; i < test.count; i++) {
      const row = Array.from(probs.subarray(i * 10, i * 10 + 10));
      ce -= Math.log(row[test.y[i] as number] as number) / test.count;
      if (row.indexOf(Math.max(...row)) === test.y[i]) hits++;
    }
    const e = await evaluate(m, test, 'cpu');
    assert.ok(Math.abs(e.loss - ce) < 1e-4 * Math.max(1, ce), `trainer loss ${e.loss}, TF.js ${ce}`);
    assert.equal(e.accuracy, hits / test.count);
  });

  it('trains: the loss falls, BN statistics follow the batches, dropout is seeded', async () => {
    // 30 digits, 6 steps (the CPU is shared): the loss is measured on the training digits.
    const few: Samples = {
      x: train.x.subarray(0, 30 * DIGIT_PIXELS),
      y: train.y.subarray(0, 30),
      count: 30,
      features: DIGIT_PIXELS,
    };
    const m = buildMnistCnn(5, SMALL);
    const before0 = await evaluate(m, few);
    const options = { model: m, samples: few, lr: 0.1, epochs: 2, batchSize: 10, seed: 4 };
    const r = await trainLocal(options);
    const after = await evaluate({ ...m, weights: r.weights }, few);
    assert.ok(after.loss < before0.loss, `loss ${before0.loss} → ${after.loss}`);
    assert.notDeepEqual(
      named({ ...m, weights: r.weights }, 'bn_0/moving_mean'),
      named(m, 'bn_0/moving_mean'),
    );
    const again = await trainLocal(options);
    assert.deepEqual(again.weights, r.weights);
    const other = await trainLocal({ ...options, seed: 5 });
    assert.notDeepEqual(other.weights, r.weights);
  });

  it('a frozen layer (trainable: false) keeps its weights and statistics; the others move', async () => {
    const m = perturbed();
    const layers = (m.modelTopology.config as { layers: Array<{ config: Record<string, unknown> }> }).layers;
    for (const l of layers) if (/^(conv_|bn_)/.test(String(l.config.name))) l.config.trainable = false;
    const r = await trainLocal({
      model: m,
      samples: train,
      lr: 0.05,
      epochs: 1,
      batchSize: 20,
      seed: 1,
      backend: 'cpu',
    });
    const moved = r.weights.filter((w, i) =>
      w.values.some((x, k) => x !== (m.weights[i]?.values[k] as number)),
    );
    assert.deepEqual(
      moved.map((w) => w.name),
      ['hidden/kernel', 'hidden/bias', 'output/kernel', 'output/bias'],
    );
  });

  it('a strided convolution trains on the cpu backend (WASM has no Conv2D gradient) and says so', async () => {
    const topology = {
      class_name: 'Sequential',
      config: {
        layers: [
          {
            class_name: 'Reshape',
            config: { name: 'img', target_shape: [28, 28, 1], batch_input_shape: [null, 784] },
          },
          {
            class_name: 'Conv2D',
            config: { name: 'c', filters: 2, kernel_size: 3, strides: 2, activation: 'relu' },
          },
          { class_name: 'Flatten', config: { name: 'f' } },
          { class_name: 'Dense', config: { name: 'out', units: 10, activation: 'softmax' } },
        ],
      },
    };
    const shapes = parseLayerStack(topology);
    assert.deepEqual(shapes.layers[1]?.output, [13, 13, 2]);
    const random = mulberry32(2);
    const weights = [
      { name: 'c/kernel', shape: [3, 3, 1, 2] },
      { name: 'c/bias', shape: [2] },
      { name: 'out/kernel', shape: [338, 10] },
      { name: 'out/bias', shape: [10] },
    ].map(({ name, shape }) => ({
      name,
      shape,
      values: Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => (random() - 0.5) * 0.2),
    }));
    const few: Samples = {
      x: train.x.subarray(0, 20 * DIGIT_PIXELS),
      y: train.y.subarray(0, 20),
      count: 20,
      features: DIGIT_PIXELS,
    };
    const r = await trainLocal({
      model: { modelTopology: topology, weights },
      samples: few,
      lr: 0.1,
      epochs: 1,
      batchSize: 10,
      seed: 1,
    });
    assert.equal(r.backend, 'cpu');
    assert.match(r.backendFallback ?? '', /strided Conv2D/);
    assert.notDeepEqual(r.weights[0]?.values, weights[0]?.values);
  });

  it('refuses topologies it cannot train, naming the layer', () => {
    const seq = (layers: unknown[]) => ({ class_name: 'Sequential', config: { layers } });
    assert.throws(
      () =>
        parseLayerStack(
          seq([
            { class_name: 'Conv2D', config: { filters: 2, kernel_size: 3, batch_input_shape: [null, 784] } },
          ]),
        ),
      /layer 0 \(Conv2D\) needs a \[height, width, channels\] input/,
    );
    assert.throws(
      () =>
        parseLayerStack(
          seq([
            { class_name: 'Reshape', config: { target_shape: [28, 28, 1], batch_input_shape: [null, 784] } },
            { class_name: 'Dense', config: { units: 10 } },
          ]),
        ),
      /layer 1 \(Dense\) needs a flat input, got \[28,28,1\]: add a Flatten/,
    );
    assert.throws(
      () => parseLayerStack(seq([{ class_name: 'GRU', config: {} }])),
      /layer 0 is GRU; supported:/,
    );
    const stack = parseLayerStack(buildMnistCnn(1).modelTopology);
    assert.deepEqual(stack.input, [784]);
    assert.deepEqual(
      stack.layers.map((l) => `${l.kind}:${l.output.join('x')}`),
      [
        'reshape:28x28x1',
        'conv2d:28x28x32',
        'pool:14x14x32',
        'conv2d:14x14x64',
        'pool:7x7x64',
        'reshape:3136',
        'dense:512',
        'dense:10',
      ],
    );
    assert.equal(
      buildMnistCnn(1).weights.reduce((n, w) => n + w.values.length, 0),
      1_663_370,
    );
  });
});
