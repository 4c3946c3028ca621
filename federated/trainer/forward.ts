import { conv2dUnitStride, type NeededGrads } from './conv-grad.js';
import { denseMatMul } from './dense-grad.js';
import { type Layer, type LayerStack, layerWeights } from './layers.js';
import type { Tf } from './tf.js';
import type { Activation } from './topology.js';

type Tensor = ReturnType<Tf['tensor']>;

/** Batch moments a BatchNormalization layer saw in a training step (to update its moving stats). */
export interface BatchMoments {
  /** Index, in the weight list, of the layer's moving_mean (moving_variance follows it). */
  movingMean: number;
  momentum: number;
  mean: Tensor;
  variance: Tensor;
}

/** How {@link forward} runs. */
export interface ForwardMode {
  /** Training: batch statistics in BatchNormalization, dropout on. */
  training: boolean;
  /** Seeds of the dropout masks (training only), one call per Dropout layer and step. */
  nextSeed?: () => number;
  /** Receives each BatchNormalization layer's batch moments (training only; `tf.keep`-ed). */
  moments?: BatchMoments[];
}

function activate(tf: Tf, h: Tensor, a: Activation, last: boolean): Tensor {
  if (a === 'relu') return tf.relu(h);
  if (a === 'sigmoid') return tf.sigmoid(h);
  if (a === 'tanh') return tf.tanh(h);
  if (a === 'softmax' && !last) return tf.softmax(h);
  return h;
}

/** The zero padding of a stride-1 convolution: TF's 'same' puts the odd row/column at the bottom/right. */
function unitStridePads(x: Tensor, l: Extract<Layer, { kind: 'conv2d' }>) {
  if (l.padding === 'valid') return { top: 0, bottom: 0, left: 0, right: 0 };
  const [kh, kw] = l.kernel;
  const [oh, ow] = l.output as [number, number, number];
  const ph = Math.max(oh - 1 + kh - (x.shape[1] as number), 0);
  const pw = Math.max(ow - 1 + kw - (x.shape[2] as number), 0);
  const top = Math.floor(ph / 2);
  const left = Math.floor(pw / 2);
  return { top, bottom: ph - top, left, right: pw - left };
}

function apply(
  tf: Tf,
  l: Layer,
  h: Tensor,
  w: Tensor[],
  at: number,
  last: boolean,
  mode: ForwardMode,
  need: NeededGrads,
): Tensor {
  switch (l.kind) {
    case 'dense': {
      let out = mode.training ? denseMatMul(tf, h, w[0] as Tensor, need) : tf.matMul(h, w[0] as Tensor);
      if (l.useBias) out = tf.add(out, w[1] as Tensor);
      return activate(tf, out, l.activation, last);
    }
    case 'conv2d': {
      const unit = l.strides[0] === 1 && l.strides[1] === 1;
      // A strided convolution trains through TF.js's own gradient (Conv2DBackpropFilter, so
      // the trainer runs such a model on the cpu backend); inference needs no gradient.
      let out =
        unit && mode.training
          ? conv2dUnitStride(tf, h, w[0] as Tensor, unitStridePads(h, l), need)
          : (tf.conv2d(h as never, w[0] as never, l.strides, l.padding) as Tensor);
      if (l.useBias) out = tf.add(out, w[1] as Tensor);
      return activate(tf, out, l.activation, last);
    }
    case 'pool':
      return (l.op === 'max' ? tf.maxPool : tf.avgPool)(h as never, l.size, l.strides, l.padding) as Tensor;
    case 'batchnorm': {
      let k = 0;
      const gamma = l.scale ? w[k++] : undefined;
      const beta = l.center ? w[k++] : undefined;
      let mean = w[k] as Tensor;
      let variance = w[k + 1] as Tensor;
      // A frozen BatchNormalization runs as at inference (its moving statistics, unchanged),
      // as Keras does when fine-tuning a model whose base is frozen.
      if (mode.training && l.trainable) {
        const m = tf.moments(
          h,
          Array.from({ length: h.rank - 1 }, (_, i) => i),
        );
        mean = m.mean;
        variance = m.variance;
        mode.moments?.push({
          movingMean: at + k,
          momentum: l.momentum,
          mean: tf.keep(mean.clone()),
          variance: tf.keep(variance.clone()),
        });
      }
      return tf.batchNorm(h, mean, variance, beta, gamma, l.epsilon);
    }
    case 'dropout':
      return mode.training && l.rate > 0 ? tf.dropout(h, l.rate, undefined, mode.nextSeed?.()) : h;
    case 'reshape':
      return tf.reshape(h, [-1, ...l.output]);
  }
}

/**
 * Logits of the stack for a batch of flat rows `x` [n, features] (reshaped to the model's
 * input shape); the last layer's softmax is left out (the loss applies it). `weights` follow
 * `stackWeightShapes` order.
 */
export function forward(tf: Tf, stack: LayerStack, weights: Tensor[], x: Tensor, mode: ForwardMode): Tensor {
  let h = stack.input.length === 1 ? x : tf.reshape(x, [-1, ...stack.input]);
  let at = 0;
  // The input gradient of a layer is needed only when a layer below it has trained weights.
  let trainedBelow = false;
  stack.layers.forEach((l, i) => {
    const lw = layerWeights(l);
    const trained = l.trainable && lw.some((w) => w.role === 'trained');
    const need = { input: trainedBelow, kernel: trained };
    h = apply(tf, l, h, weights.slice(at, at + lw.length), at, i === stack.layers.length - 1, mode, need);
    at += lw.length;
    trainedBelow ||= trained;
  });
  return h;
}
