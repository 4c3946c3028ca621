import { mulberry32 } from '../prng.js';
import type { LayersModel, ModelWeights } from '../types.js';
import { parseLayerStack, stackWeightShapes } from './layers.js';

/** Options of {@link buildMnistCnn}. */
export interface CnnOptions {
  /** Filters of the 5×5 convolutions, each followed by 2×2 max pooling (default [32, 64]). */
  filters?: number[];
  /** Side of the square convolution kernels (default 5). */
  kernel?: number;
  /** Units of the hidden Dense layer (default 512). */
  dense?: number;
  /** A BatchNormalization after each convolution (default false; not in the paper). */
  batchNorm?: boolean;
  /** Dropout rate before the output layer (default 0: none; not in the paper). */
  dropout?: number;
  /** Image side (default 28) and classes (default 10). */
  side?: number;
  classes?: number;
}

const layer = (class_name: string, config: Record<string, unknown>) => ({
  class_name,
  config: { trainable: true, dtype: 'float32', ...config },
});

/**
 * McMahan et al. 2017's MNIST CNN as tfjs-layers JSON: 5×5 conv (32, ReLU, same) → 2×2 max
 * pool → 5×5 conv (64) → 2×2 max pool → Dense 512 ReLU → Dense 10 softmax (1 663 370
 * parameters at the defaults), with Glorot-uniform kernels from a seeded PRNG and zero
 * biases. It takes flat 784-pixel rows (a leading Reshape to [28, 28, 1]).
 */
export function buildMnistCnn(seed: number, options: CnnOptions = {}): LayersModel {
  const filters = options.filters ?? [32, 64];
  const side = options.side ?? 28;
  const classes = options.classes ?? 10;
  const layers: Array<ReturnType<typeof layer>> = [
    layer('Reshape', {
      name: 'image',
      target_shape: [side, side, 1],
      batch_input_shape: [null, side * side],
    }),
  ];
  filters.forEach((f, i) => {
    layers.push(
      layer('Conv2D', {
        name: `conv_${i}`,
        filters: f,
        kernel_size: [options.kernel ?? 5, options.kernel ?? 5],
        strides: [1, 1],
        padding: 'same',
        data_format: 'channels_last',
        dilation_rate: [1, 1],
        activation: 'relu',
        use_bias: true,
      }),
    );
    if (options.batchNorm)
      layers.push(
        layer('BatchNormalization', {
          name: `bn_${i}`,
          axis: -1,
          momentum: 0.9,
          epsilon: 1e-3,
          center: true,
          scale: true,
        }),
      );
    layers.push(
      layer('MaxPooling2D', {
        name: `pool_${i}`,
        pool_size: [2, 2],
        strides: [2, 2],
        padding: 'valid',
        data_format: 'channels_last',
      }),
    );
  });
  layers.push(layer('Flatten', { name: 'flatten' }));
  layers.push(
    layer('Dense', { name: 'hidden', units: options.dense ?? 512, activation: 'relu', use_bias: true }),
  );
  if (options.dropout) layers.push(layer('Dropout', { name: 'dropout', rate: options.dropout }));
  layers.push(layer('Dense', { name: 'output', units: classes, activation: 'softmax', use_bias: true }));
  const modelTopology = {
    class_name: 'Sequential',
    config: { name: 'mnist_cnn', layers },
    keras_version: 'tfjs-layers 4.22.0',
    backend: 'tensor_flow.js',
  };
  const random = mulberry32(seed);
  const weights: ModelWeights = stackWeightShapes(parseLayerStack(modelTopology)).map(({ name, shape }) => {
    const values = new Float32Array(shape.reduce((a, b) => a * b, 1));
    if (name.endsWith('/kernel')) {
      const receptive = shape.length === 4 ? (shape[0] as number) * (shape[1] as number) : 1;
      const fanIn = receptive * (shape[shape.length - 2] as number);
      const fanOut = receptive * (shape[shape.length - 1] as number);
      const limit = Math.sqrt(6 / (fanIn + fanOut));
      for (let k = 0; k < values.length; k++) values[k] = (random() * 2 - 1) * limit;
    } else if (name.endsWith('/gamma') || name.endsWith('/moving_variance')) values.fill(1);
    return { name, shape, values };
  });
  return { modelTopology, weights };
}
