import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import {
  buildMnistMlp,
  evaluate,
  l2Norm,
  loadTf,
  type Samples,
  sub,
  trainLocal,
} from '../../federated/index.js';
import { DIGIT_PIXELS, loadDigits } from '../../inference/index.js';

// Local training with TF.js on real MNIST digits.

let train: Samples;
let test: Samples;
before(() => {
  const a = loadDigits(30, 0);
  const b = loadDigits(20, 500);
  train = { x: a.pixels, y: a.labels, count: a.labels.length, features: DIGIT_PIXELS };
  test = { x: b.pixels, y: b.labels, count: b.labels.length, features: DIGIT_PIXELS };
});

describe('buildMnistMlp', () => {
  it('is deterministic for a seed and loads in TF.js with the same outputs as the trainer', async () => {
    const a = buildMnistMlp(7, { hidden: [16] });
    const b = buildMnistMlp(7, { hidden: [16] });
    const c = buildMnistMlp(8, { hidden: [16] });
    assert.deepEqual(a, b);
    assert.notDeepEqual(a.weights[0]?.values, c.weights[0]?.values);
    assert.deepEqual(
      a.weights.map((w) => `${w.name}:${w.shape.join('x')}`),
      ['dense_0/kernel:784x16', 'dense_0/bias:16', 'dense_1/kernel:16x10', 'dense_1/bias:10'],
    );
    const { tf } = await loadTf('cpu');
    const model = await tf.models.modelFromJSON({ modelTopology: a.modelTopology } as never);
    model.setWeights(a.weights.map((w) => tf.tensor(w.values, w.shape)));
    const probs = (
      model.predict(tf.tensor2d(test.x, [test.count, DIGIT_PIXELS])) as ReturnType<typeof tf.tensor>
    ).dataSync();
    assert.equal(probs.length, test.count * 10);
    // TF.js's own top-1 agrees with evaluate()'s accuracy computed by the trainer's forward pass.
    let hits = 0;
    for (let i = 0; i < test.count; i++) {
      const row = Array.from(probs.subarray(i * 10, i * 10 + 10));
      if (row.indexOf(Math.max(...row)) === test.y[i]) hits++;
    }
    const e = await evaluate(a, test, 'cpu');
    assert.equal(e.accuracy, hits / test.count);
  });
});

describe('trainLocal', () => {
  it('reduces the loss on real digits and is deterministic for a seed', async () => {
    const model = buildMnistMlp(1, { hidden: [32] });
    const before0 = await evaluate(model, test);
    const options = { model, samples: train, lr: 0.1, epochs: 3, batchSize: 10, seed: 3 };
    const r = await trainLocal(options);
    assert.equal(r.examples, 300);
    assert.equal(r.steps, 90);
    // wasm where it loads; a cpu run must say why wasm did not.
    assert.ok(r.backend === 'wasm' ? r.backendFallback === undefined : typeof r.backendFallback === 'string');
    const after = await evaluate({ modelTopology: model.modelTopology, weights: r.weights }, test);
    assert.ok(after.loss < before0.loss * 0.7, `held-out loss ${before0.loss} → ${after.loss}`);
    assert.ok(
      after.accuracy > before0.accuracy + 0.3,
      `held-out accuracy ${before0.accuracy} → ${after.accuracy}`,
    );
    const { tf } = await loadTf();
    const tensors = tf.memory().numTensors;
    const again = await trainLocal(options);
    await evaluate(model, test);
    assert.equal(tf.memory().numTensors, tensors, 'trainLocal and evaluate leave no tensors behind');
    assert.deepEqual(again.weights, r.weights);
    const otherSeed = await trainLocal({ ...options, seed: 4 });
    assert.notDeepEqual(otherSeed.weights[0]?.values, r.weights[0]?.values);
  });

  it("FedProx's term pulls the weights toward the global model", async () => {
    const model = buildMnistMlp(2, { hidden: [32] });
    const base = { model, samples: train, lr: 0.1, epochs: 2, batchSize: 10, seed: 5 };
    const plain = await trainLocal(base);
    const prox = await trainLocal({ ...base, proxMu: 1 });
    const drift = (w: typeof plain.weights) => l2Norm(sub(w, model.weights));
    assert.ok(
      drift(prox.weights) < drift(plain.weights) * 0.9,
      `drift ${drift(plain.weights)} vs prox ${drift(prox.weights)}`,
    );
  });

  it('full batch with one epoch is one step (FedSGD)', async () => {
    const r = await trainLocal({
      model: buildMnistMlp(1, { hidden: [8] }),
      samples: train,
      lr: 0.1,
      epochs: 1,
      batchSize: Number.POSITIVE_INFINITY,
      seed: 1,
    });
    assert.equal(r.steps, 1);
  });

  it('refuses samples and models that do not fit, naming the problem', async () => {
    const model = buildMnistMlp(1, { hidden: [8] });
    await assert.rejects(
      trainLocal({ model, samples: { ...train, features: 10 }, lr: 0.1, epochs: 1, batchSize: 10, seed: 1 }),
      /features 10; the model takes 784/,
    );
    await assert.rejects(
      trainLocal({
        model,
        samples: { ...train, y: Uint8Array.from(train.y, () => 12) },
        lr: 0.1,
        epochs: 1,
        batchSize: 10,
        seed: 1,
      }),
      /label 12 at row 0 is outside 0..9/,
    );
    await assert.rejects(
      trainLocal({
        model: { ...model, weights: model.weights.slice(1) },
        samples: train,
        lr: 0.1,
        epochs: 1,
        batchSize: 10,
        seed: 1,
      }),
      /do not match the topology/,
    );
    await assert.rejects(
      trainLocal({ model, samples: train, lr: 0, epochs: 1, batchSize: 10, seed: 1 }),
      /lr 0/,
    );
    await assert.rejects(
      trainLocal({
        model: {
          ...model,
          modelTopology: {
            class_name: 'Sequential',
            config: { layers: [{ class_name: 'LSTM', config: {} }] },
          },
        },
        samples: train,
        lr: 0.1,
        epochs: 1,
        batchSize: 10,
        seed: 1,
      }),
      /layer 0 is LSTM; supported: InputLayer, Dense, Conv2D/,
    );
  });
});
