import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  applyTrainableLayers,
  buildMnistCnn,
  compressWithFeedback,
  decodeUpdate,
  mergeTensors,
  parseLayerStack,
  pickTensors,
  type Samples,
  sub,
  trainableTensors,
  trainLocal,
} from '../../federated/index.js';
import { DIGIT_PIXELS, loadDigits } from '../../inference/index.js';

// Fine-tuning: the task names the layers that train; the others are frozen, and the update
// carries only the trainable layers' tensors.

const cnn = () => buildMnistCnn(2, { filters: [2, 4], kernel: 3, dense: 8, batchNorm: true, dropout: 0.1 });

describe('trainable layers', () => {
  it('by name or as the last N layers with weights; everything else is frozen', () => {
    const m = cnn();
    const named = applyTrainableLayers(m.modelTopology, ['hidden', 'output']);
    assert.deepEqual(named.layers, ['hidden', 'output']);
    const last = applyTrainableLayers(m.modelTopology, { last: 3 });
    // conv_0, bn_0, conv_1, bn_1, hidden, output have weights: the last three.
    assert.deepEqual(last.layers, ['bn_1', 'hidden', 'output']);
    const flags = parseLayerStack(last.topology).layers.map((l) => `${l.name}:${l.trainable}`);
    assert.deepEqual(flags, [
      'image:false',
      'conv_0:false',
      'bn_0:false',
      'pool_0:false',
      'conv_1:false',
      'bn_1:true',
      'pool_1:false',
      'flatten:false',
      'hidden:true',
      'dropout:false',
      'output:true',
    ]);
    // The caller's topology is not touched.
    assert.ok(parseLayerStack(m.modelTopology).layers.every((l) => l.trainable));
    assert.deepEqual(
      trainableTensors(last.topology).map((t) => t.name),
      [
        'bn_1/gamma',
        'bn_1/beta',
        'bn_1/moving_mean',
        'bn_1/moving_variance',
        'hidden/kernel',
        'hidden/bias',
        'output/kernel',
        'output/bias',
      ],
    );
  });

  it('refuses unknown layers, layers without weights and counts out of range, naming them', () => {
    const t = cnn().modelTopology;
    assert.throws(
      () => applyTrainableLayers(t, ['dense_9']),
      /no layer dense_9; the layers with weights are conv_0, bn_0/,
    );
    assert.throws(() => applyTrainableLayers(t, ['pool_0']), /pool_0 has no weights to train/);
    assert.throws(() => applyTrainableLayers(t, []), /no layer named/);
    assert.throws(() => applyTrainableLayers(t, { last: 7 }), /last 7; the model has 6 layers with weights/);
    assert.throws(() => applyTrainableLayers(t, { last: 0 }), /last 0/);
  });

  it('pick and merge: the subset goes into the full model by name', () => {
    const m = cnn();
    const part = pickTensors(m.weights, ['output/bias', 'hidden/kernel']);
    assert.deepEqual(
      part.map((w) => w.name),
      ['hidden/kernel', 'output/bias'],
    );
    const changed = part.map((w) => ({ ...w, values: w.values.map((v) => v + 1) }));
    const merged = mergeTensors(m.weights, changed);
    assert.equal(merged.length, m.weights.length);
    merged.forEach((w, i) => {
      const moved = w.name === 'hidden/kernel' || w.name === 'output/bias';
      assert.equal(w.values[0], Math.fround((m.weights[i]?.values[0] as number) + (moved ? 1 : 0)), w.name);
    });
    assert.throws(() => pickTensors(m.weights, ['nope/kernel']), /no tensor nope\/kernel/);
    assert.throws(
      () => mergeTensors(m.weights, [{ name: 'output/bias', shape: [3], values: new Float32Array(3) }]),
      /output\/bias: \[3\] does not fit \[10\]/,
    );
  });

  it('training the head: only its tensors move, and its delta compresses (int8, top-k with feedback) on its own', async () => {
    const m = cnn();
    const { topology } = applyTrainableLayers(m.modelTopology, ['hidden', 'output']);
    const d = loadDigits(4, 0);
    const samples: Samples = { x: d.pixels, y: d.labels, count: 40, features: DIGIT_PIXELS };
    const r = await trainLocal({
      model: { modelTopology: topology, weights: m.weights },
      samples,
      lr: 0.1,
      epochs: 1,
      batchSize: 10,
      seed: 1,
    });
    const delta = sub(r.weights, m.weights);
    const moved = delta.filter((t) => t.values.some((v) => v !== 0)).map((t) => t.name);
    assert.deepEqual(moved, ['hidden/kernel', 'hidden/bias', 'output/kernel', 'output/bias']);
    const names = trainableTensors(topology).map((t) => t.name);
    const part = pickTensors(delta, names);
    for (const compression of ['int8', 'topk'] as const) {
      const packed = compressWithFeedback(part, undefined, { compression, topkFraction: 0.1, clipNorm: 10 });
      const decoded = decodeUpdate(packed.encoded, trainableTensors(topology));
      assert.deepEqual(
        decoded.map((t) => t.name),
        names,
      );
      assert.equal(packed.residual.length, names.length);
      // Sent + residual = the clipped delta: nothing is lost, only delayed.
      decoded.forEach((t, i) => {
        for (let k = 0; k < t.values.length; k += 37) {
          const sum = (t.values[k] as number) + (packed.residual[i]?.values[k] as number);
          assert.ok(Math.abs(sum - (part[i]?.values[k] as number)) < 1e-6);
        }
      });
    }
  });
});
