import { OutpostError } from '../../shared/index.js';
import { mulberry32 } from '../prng.js';
import type { LayersModel, ModelWeights } from '../types.js';
import type { TensorShape } from '../weights.js';

/** Activations the trainer and the ONNX exporter implement. */
export type Activation = 'linear' | 'relu' | 'sigmoid' | 'tanh' | 'softmax';
const ACTIVATIONS: ReadonlySet<string> = new Set(['linear', 'relu', 'sigmoid', 'tanh', 'softmax']);

/** One Dense layer of a Sequential tfjs-layers model. */
export interface DenseLayer {
  name: string;
  inputs: number;
  units: number;
  activation: Activation;
  useBias: boolean;
}

function bad(message: string): OutpostError {
  return new OutpostError('FL_BAD_PARAMS', `model topology: ${message}`);
}

/**
 * Reads a Sequential tfjs-layers topology made of Dense layers (an optional leading
 * InputLayer/Flatten of a 1-D input is allowed): the MLPs federated training supports.
 * Throws `FL_BAD_PARAMS` naming the first layer it cannot train or export.
 */
export function parseDenseStack(topology: Record<string, unknown>): DenseLayer[] {
  const root = (
    topology.class_name === undefined && 'model_config' in topology ? topology.model_config : topology
  ) as {
    class_name?: string;
    config?: { layers?: unknown[] } | unknown[];
  };
  if (root.class_name !== 'Sequential')
    throw bad(`class_name ${JSON.stringify(root.class_name)}; only Sequential`);
  const layers = Array.isArray(root.config) ? root.config : root.config?.layers;
  if (!Array.isArray(layers) || layers.length === 0) throw bad('no layers');
  const out: DenseLayer[] = [];
  let width: number | null = null;
  for (const [i, raw] of layers.entries()) {
    const l = raw as { class_name?: string; config?: Record<string, unknown> };
    const c = l.config ?? {};
    const input = (c.batch_input_shape ?? c.batchInputShape) as Array<number | null> | undefined;
    if (input) {
      if (input.length !== 2 || typeof input[1] !== 'number')
        throw bad(`layer ${i} input shape ${JSON.stringify(input)}; only [null, features]`);
      width = input[1];
    }
    if (l.class_name === 'InputLayer' || l.class_name === 'Flatten') continue;
    if (l.class_name !== 'Dense') throw bad(`layer ${i} is ${l.class_name}; only Dense layers are supported`);
    const activation = String(c.activation ?? 'linear');
    if (!ACTIVATIONS.has(activation)) throw bad(`layer ${i} activation ${activation} is not supported`);
    if (width === null) throw bad(`layer ${i}: the input width is unknown (no batch_input_shape)`);
    const units = Number(c.units);
    if (!(Number.isInteger(units) && units > 0)) throw bad(`layer ${i} units ${c.units}`);
    out.push({
      name: String(c.name ?? `dense_${i}`),
      inputs: width,
      units,
      activation: activation as Activation,
      useBias: c.use_bias !== false,
    });
    width = units;
  }
  if (out.length === 0) throw bad('no Dense layer');
  return out;
}

/** The weight tensors a Dense stack has, in tfjs order: per layer `NAME/kernel` [in, units] then `NAME/bias` [units]. */
export function denseWeightShapes(layers: DenseLayer[]): TensorShape[] {
  return layers.flatMap((l) => [
    { name: `${l.name}/kernel`, shape: [l.inputs, l.units] },
    ...(l.useBias ? [{ name: `${l.name}/bias`, shape: [l.units] }] : []),
  ]);
}

/** Options of {@link buildMnistMlp}. */
export interface MlpOptions {
  /** Hidden layer widths, ReLU (default [200]: McMahan et al. 2017's 2NN has [200, 200]). */
  hidden?: number[];
  /** Input features (default 784). */
  inputs?: number;
  /** Classes, softmax output (default 10). */
  classes?: number;
}

/**
 * A Sequential MLP as tfjs-layers JSON (the format `model.toJSON()` writes, so TF.js loads
 * it) with Glorot-uniform kernels from a seeded PRNG and zero biases: the same seed gives
 * the same weights, with no TF.js needed to build it.
 */
export function buildMnistMlp(seed: number, options: MlpOptions = {}): LayersModel {
  const hidden = options.hidden ?? [200];
  const inputs = options.inputs ?? 784;
  const classes = options.classes ?? 10;
  const widths = [...hidden, classes];
  const layers = widths.map((units, i) => ({
    class_name: 'Dense',
    config: {
      units,
      activation: i === widths.length - 1 ? 'softmax' : 'relu',
      use_bias: true,
      kernel_initializer: { class_name: 'GlorotUniform', config: { seed: null } },
      bias_initializer: { class_name: 'Zeros', config: {} },
      kernel_regularizer: null,
      bias_regularizer: null,
      activity_regularizer: null,
      kernel_constraint: null,
      bias_constraint: null,
      name: `dense_${i}`,
      trainable: true,
      ...(i === 0 ? { batch_input_shape: [null, inputs] } : {}),
      dtype: 'float32',
    },
  }));
  const modelTopology = {
    class_name: 'Sequential',
    config: { name: 'mnist_mlp', layers },
    keras_version: 'tfjs-layers 4.22.0',
    backend: 'tensor_flow.js',
  };
  const random = mulberry32(seed);
  const weights: ModelWeights = denseWeightShapes(parseDenseStack(modelTopology)).map(({ name, shape }) => {
    const values = new Float32Array(shape.reduce((a, b) => a * b, 1));
    if (shape.length === 2) {
      const limit = Math.sqrt(6 / ((shape[0] as number) + (shape[1] as number)));
      for (let k = 0; k < values.length; k++) values[k] = (random() * 2 - 1) * limit;
    }
    return { name, shape, values };
  });
  return { modelTopology, weights };
}
