import { OutpostError } from '../../shared/index.js';
import { mulberry32, shuffleInPlace } from '../prng.js';
import type {
  EvalResult,
  LayersModel,
  ModelWeights,
  Samples,
  TrainLocalOptions,
  TrainResult,
} from '../types.js';
import { sameShapes } from '../weights.js';
import { type BatchMoments, forward } from './forward.js';
import { type LayerStack, layerWeights, parseLayerStack, stackWeightShapes } from './layers.js';
import { loadTf, selectBackend, type Tf, type TrainBackend } from './tf.js';

type Tensor = ReturnType<Tf['tensor']>;
type Variable = ReturnType<Tf['variable']>;

function checkModel(model: LayersModel): LayerStack {
  const stack = parseLayerStack(model.modelTopology);
  const shapes = stackWeightShapes(stack);
  if (!sameShapes(model.weights, shapes)) {
    const got = model.weights.map((w) => `${w.name}[${w.shape.join(',')}]`).join(' ');
    const want = shapes.map((w) => `${w.name}[${w.shape.join(',')}]`).join(' ');
    throw new OutpostError('FL_BAD_PARAMS', `model weights ${got} do not match the topology's ${want}`);
  }
  return stack;
}

function checkSamples(samples: Samples, stack: LayerStack): void {
  const { x, y, count, features } = samples;
  const inputs = stack.input.reduce((a, b) => a * b, 1);
  const classes = stack.classes;
  const problems: string[] = [];
  if (!(Number.isInteger(count) && count > 0)) problems.push(`count ${count} is not a positive integer`);
  if (features !== inputs) problems.push(`features ${features}; the model takes ${inputs}`);
  if (x.length !== count * features) problems.push(`x has ${x.length} values for ${count}×${features}`);
  if (y.length !== count) problems.push(`y has ${y.length} labels for ${count} rows`);
  for (let i = 0; i < y.length && problems.length === 0; i++) {
    const label = y[i] as number;
    if (!(Number.isInteger(label) && label >= 0 && label < classes))
      problems.push(`label ${label} at row ${i} is outside 0..${classes - 1}`);
  }
  if (problems.length > 0) throw new OutpostError('FL_BAD_PARAMS', `samples: ${problems.join('; ')}`);
}

function batchOf(samples: Samples, order: Uint32Array, from: number, to: number) {
  const n = to - from;
  const x = new Float32Array(n * samples.features);
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const row = order[from + i] as number;
    x.set(samples.x.subarray(row * samples.features, (row + 1) * samples.features), i * samples.features);
    y[i] = samples.y[row] as number;
  }
  return { x, y, n };
}

const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * Local training with TF.js: plain mini-batch SGD on softmax cross-entropy,
 * shuffled each epoch by a seeded PRNG (same model, samples and seed → same weights on the
 * same backend), plus FedProx's `μ/2·‖w − w_global‖²` when `proxMu` > 0 (w_global = the
 * weights passed in). Yields to the event loop between steps so the agent keeps serving.
 * `batchSize` ≥ count (or Infinity) is full-batch gradient descent (FedSGD when epochs = 1).
 * Throws `FL_BAD_PARAMS` for a model it cannot train or samples that do not fit it.
 */
export async function trainLocal(options: TrainLocalOptions): Promise<TrainResult> {
  const { model, samples, lr, epochs, seed } = options;
  const stack = checkModel(model);
  checkSamples(samples, stack);
  if (!(lr > 0) || !(Number.isInteger(epochs) && epochs >= 1) || !(options.batchSize >= 1)) {
    throw new OutpostError(
      'FL_BAD_PARAMS',
      `training: lr ${lr}, epochs ${epochs}, batchSize ${options.batchSize} (need lr > 0, integer epochs ≥ 1, batchSize ≥ 1)`,
    );
  }
  const mu = options.proxMu ?? 0;
  if (!(mu >= 0)) throw new OutpostError('FL_BAD_PARAMS', `proxMu ${mu} must be ≥ 0`);
  // A strided convolution trains through tf.conv2d's gradient, which the WASM backend lacks.
  const strided = stack.layers.some((l) => l.kind === 'conv2d' && (l.strides[0] !== 1 || l.strides[1] !== 1));
  const wanted = strided ? 'cpu' : options.backend;
  const loaded = await loadTf(wanted);
  const { tf, backend } = loaded;
  const fallback =
    loaded.fallback ??
    (strided && options.backend !== 'cpu'
      ? 'strided Conv2D: the wasm backend has no Conv2D gradient; cpu used'
      : undefined);
  selectBackend(tf, backend);
  const batch = Math.min(
    samples.count,
    Number.isFinite(options.batchSize) ? Math.floor(options.batchSize) : samples.count,
  );
  const classes = stack.classes;
  // Gradient descent moves the weights of trainable layers only; frozen layers and the
  // BatchNormalization moving statistics are not trained (the statistics follow the batches).
  const trained = stack.layers.flatMap((l) =>
    layerWeights(l).map((w) => l.trainable && w.role === 'trained'),
  );
  const vars = model.weights.map((w, i) => {
    const initial = tf.tensor(w.values, w.shape);
    const v = tf.variable(initial, trained[i] === true);
    initial.dispose(); // the variable holds its own reference to the data
    return v;
  });
  const trainable = vars.filter((_, i) => trained[i]);
  const dropoutRandom = mulberry32((seed ^ 0x5bd1e995) >>> 0);
  const nextSeed = () => Math.floor(dropoutRandom() * 2 ** 31);
  const anchors = mu > 0 ? model.weights.map((w) => tf.tensor(w.values, w.shape)) : [];
  const optimizer = tf.train.sgd(lr);
  const random = mulberry32(seed);
  const order = Uint32Array.from({ length: samples.count }, (_, i) => i);
  let loss = 0;
  let correct = 0;
  let steps = 0;
  try {
    for (let epoch = 0; epoch < epochs; epoch++) {
      shuffleInPlace(order, random);
      loss = 0;
      correct = 0;
      for (let from = 0; from < samples.count; from += batch) {
        await yieldToEventLoop();
        selectBackend(tf, backend);
        const b = batchOf(samples, order, from, Math.min(samples.count, from + batch));
        const stepLoss = tf.tidy(() => {
          const x = tf.tensor2d(b.x, [b.n, samples.features]);
          const labels = tf.tensor1d(b.y, 'int32');
          const onehot = tf.oneHot(labels, classes);
          let hits = 0;
          const moments: BatchMoments[] = [];
          const cost = optimizer.minimize(
            () => {
              moments.length = 0;
              const logits = forward(tf, stack, vars, x, { training: true, nextSeed, moments });
              hits = tf.sum(tf.cast(tf.equal(tf.argMax(logits, 1), labels), 'int32')).dataSync()[0] as number;
              const ce = tf.losses.softmaxCrossEntropy(onehot, logits);
              if (mu === 0) return ce as never;
              const prox = tf.addN(vars.map((v, i) => tf.sum(tf.square(tf.sub(v, anchors[i] as Tensor)))));
              return tf.add(ce, tf.mul(mu / 2, prox)) as never;
            },
            true,
            trainable,
          );
          for (const m of moments) {
            for (const [k, batchStat] of [m.mean, m.variance].entries()) {
              const moving = vars[m.movingMean + k] as Variable;
              moving.assign(tf.add(tf.mul(moving, m.momentum), tf.mul(batchStat, 1 - m.momentum)));
            }
            m.mean.dispose();
            m.variance.dispose();
          }
          correct += hits;
          return (cost as Tensor).dataSync()[0] as number;
        });
        loss += stepLoss * b.n;
        steps++;
      }
    }
    const weights: ModelWeights = vars.map((v, i) => {
      const w = model.weights[i] as ModelWeights[number];
      return { name: w.name, shape: [...w.shape], values: Float32Array.from(v.dataSync() as Float32Array) };
    });
    return {
      weights,
      loss: loss / samples.count,
      accuracy: correct / samples.count,
      examples: samples.count,
      steps,
      backend,
      ...(fallback ? { backendFallback: fallback } : {}),
    };
  } finally {
    for (const v of vars) v.dispose();
    for (const a of anchors) a.dispose();
    optimizer.dispose();
  }
}

/**
 * Loss and top-1 accuracy of `model` on `samples` (in batches of 1 000 rows). The loss is the
 * mean cross-entropy without any proximal term. Throws `FL_BAD_PARAMS` like `trainLocal`.
 */
export async function evaluate(
  model: LayersModel,
  samples: Samples,
  preferred?: TrainBackend,
): Promise<EvalResult> {
  const stack = checkModel(model);
  checkSamples(samples, stack);
  const { tf, backend } = await loadTf(preferred);
  const classes = stack.classes;
  const weights = model.weights.map((w) => tf.tensor(w.values, w.shape));
  let loss = 0;
  let correct = 0;
  const all = Uint32Array.from({ length: samples.count }, (_, i) => i);
  try {
    for (let from = 0; from < samples.count; from += 1000) {
      await yieldToEventLoop();
      selectBackend(tf, backend);
      const b = batchOf(samples, all, from, Math.min(samples.count, from + 1000));
      const [l, c] = tf.tidy(() => {
        const labels = tf.tensor1d(b.y, 'int32');
        const logits = forward(tf, stack, weights, tf.tensor2d(b.x, [b.n, samples.features]), {
          training: false,
        });
        const ce = tf.losses.softmaxCrossEntropy(tf.oneHot(labels, classes), logits);
        const hits = tf.sum(tf.cast(tf.equal(tf.argMax(logits, 1), labels), 'int32'));
        return [ce.dataSync()[0] as number, hits.dataSync()[0] as number];
      });
      loss += (l as number) * b.n;
      correct += c as number;
    }
  } finally {
    for (const w of weights) w.dispose();
  }
  return { loss: loss / samples.count, accuracy: correct / samples.count, count: samples.count };
}

/**
 * The model's logits (the last layer before its activation) for `count` flat rows `x`, in
 * inference mode (BatchNormalization's moving statistics, no dropout), in batches of 500:
 * what the TF.js model computes, the reference an export is compared with.
 */
export async function predictLogits(
  model: LayersModel,
  x: Float32Array,
  count: number,
  preferred?: TrainBackend,
): Promise<Float32Array> {
  const stack = checkModel(model);
  const features = stack.input.reduce((a, b) => a * b, 1);
  if (!(Number.isInteger(count) && count > 0) || x.length !== count * features)
    throw new OutpostError('FL_BAD_PARAMS', `predict: ${x.length} values for ${count} rows of ${features}`);
  const { tf, backend } = await loadTf(preferred);
  const weights = model.weights.map((w) => tf.tensor(w.values, w.shape));
  const out = new Float32Array(count * stack.classes);
  try {
    for (let from = 0; from < count; from += 500) {
      await yieldToEventLoop();
      selectBackend(tf, backend);
      const n = Math.min(500, count - from);
      const rows = x.subarray(from * features, (from + n) * features);
      const logits = tf.tidy(() =>
        forward(tf, stack, weights, tf.tensor2d(rows, [n, features]), { training: false }).dataSync(),
      );
      out.set(logits as Float32Array, from * stack.classes);
    }
  } finally {
    for (const w of weights) w.dispose();
  }
  return out;
}
