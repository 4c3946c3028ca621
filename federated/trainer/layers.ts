import { OutpostError } from '../../shared/index.js';
import type { TensorShape } from '../weights.js';
import type { Activation } from './topology.js';

const ACTIVATIONS: ReadonlySet<string> = new Set(['linear', 'relu', 'sigmoid', 'tanh', 'softmax']);

interface Base {
  name: string;
  /** False: the layer is frozen (its weights never change in training; their delta is zero). */
  trainable: boolean;
  /** Output shape without the batch dimension. */
  output: number[];
}
export type Layer =
  | (Base & { kind: 'dense'; inputs: number; units: number; activation: Activation; useBias: boolean })
  | (Base & {
      kind: 'conv2d';
      kernel: [number, number];
      channels: number;
      filters: number;
      strides: [number, number];
      padding: 'same' | 'valid';
      activation: Activation;
      useBias: boolean;
    })
  | (Base & {
      kind: 'pool';
      op: 'max' | 'avg';
      size: [number, number];
      strides: [number, number];
      padding: 'same' | 'valid';
    })
  | (Base & {
      kind: 'batchnorm';
      channels: number;
      momentum: number;
      epsilon: number;
      center: boolean;
      scale: boolean;
    })
  | (Base & { kind: 'dropout'; rate: number })
  | (Base & { kind: 'reshape' });

/** A Sequential model the trainer runs: the input shape (no batch dimension) and its layers. */
export interface LayerStack {
  input: number[];
  layers: Layer[];
  /** Units of the last layer (a Dense: the classes). */
  classes: number;
}

/** The tfjs-layers classes {@link parseLayerStack} accepts. */
export const SUPPORTED_LAYERS = [
  'InputLayer',
  'Dense',
  'Conv2D',
  'MaxPooling2D',
  'AveragePooling2D',
  'BatchNormalization',
  'Dropout',
  'Flatten',
  'Reshape',
] as const;

function bad(message: string): OutpostError {
  return new OutpostError('FL_BAD_PARAMS', `model topology: ${message}`);
}

const pair = (v: unknown, what: string, fallback?: [number, number]): [number, number] => {
  const p = v === undefined || v === null ? fallback : typeof v === 'number' ? [v, v] : v;
  if (!Array.isArray(p) || p.length !== 2 || !p.every((d) => Number.isInteger(d) && d > 0))
    throw bad(`${what} ${JSON.stringify(v)}; two positive integers expected`);
  return [p[0], p[1]] as [number, number];
};

function outSize(n: number, k: number, s: number, padding: 'same' | 'valid'): number {
  return padding === 'same' ? Math.ceil(n / s) : Math.floor((n - k) / s) + 1;
}

/**
 * Reads a Sequential tfjs-layers topology (`model.toJSON()`'s format) of the layers in
 * {@link SUPPORTED_LAYERS}, channels-last, tracking each layer's output shape from the first
 * layer's `batch_input_shape`. A layer's `trainable: false` freezes it. Throws
 * `FL_BAD_PARAMS` naming the first layer it cannot train.
 */
export function parseLayerStack(topology: Record<string, unknown>): LayerStack {
  const root = (
    topology.class_name === undefined && 'model_config' in topology ? topology.model_config : topology
  ) as { class_name?: string; config?: { layers?: unknown[] } | unknown[] };
  if (root.class_name !== 'Sequential')
    throw bad(`class_name ${JSON.stringify(root.class_name)}; only Sequential`);
  const raw = Array.isArray(root.config) ? root.config : root.config?.layers;
  if (!Array.isArray(raw) || raw.length === 0) throw bad('no layers');
  let shape: number[] | null = null;
  let input: number[] | null = null;
  const layers: Layer[] = [];
  for (const [i, entry] of raw.entries()) {
    const l = entry as { class_name?: string; config?: Record<string, unknown> };
    const c = l.config ?? {};
    const declared = (c.batch_input_shape ?? c.batchInputShape) as Array<number | null> | undefined;
    if (declared) {
      const dims = declared.slice(1);
      if (declared.length < 2 || !dims.every((d) => Number.isInteger(d) && (d as number) > 0))
        throw bad(`layer ${i} input shape ${JSON.stringify(declared)}; [null, ...positive dims] expected`);
      shape = dims as number[];
      input ??= shape;
    }
    const cls = String(l.class_name);
    if (!(SUPPORTED_LAYERS as readonly string[]).includes(cls))
      throw bad(`layer ${i} is ${cls}; supported: ${SUPPORTED_LAYERS.join(', ')}`);
    if (cls === 'InputLayer') continue;
    if (shape === null) throw bad(`layer ${i}: the input shape is unknown (no batch_input_shape)`);
    const name = String(c.name ?? `${cls.toLowerCase()}_${i}`);
    const trainable = c.trainable !== false;
    const activation = String(c.activation ?? 'linear');
    if (cls === 'Dense' || cls === 'Conv2D') {
      if (!ACTIVATIONS.has(activation)) throw bad(`layer ${i} activation ${activation} is not supported`);
    }
    const hwc = () => {
      if (shape?.length !== 3)
        throw bad(
          `layer ${i} (${cls}) needs a [height, width, channels] input, got ${JSON.stringify(shape)}`,
        );
      return shape as [number, number, number];
    };
    if (cls === 'Dense') {
      if (shape.length !== 1)
        throw bad(`layer ${i} (Dense) needs a flat input, got ${JSON.stringify(shape)}: add a Flatten`);
      const units = Number(c.units);
      if (!(Number.isInteger(units) && units > 0)) throw bad(`layer ${i} units ${c.units}`);
      layers.push({
        kind: 'dense',
        name,
        trainable,
        output: [units],
        inputs: shape[0] as number,
        units,
        activation: activation as Activation,
        useBias: c.use_bias !== false,
      });
    } else if (cls === 'Conv2D') {
      const [h, w, channels] = hwc();
      if ((c.data_format ?? 'channels_last') !== 'channels_last')
        throw bad(`layer ${i} data_format ${c.data_format}; only channels_last`);
      const dilation = pair(c.dilation_rate, `layer ${i} dilation_rate`, [1, 1]);
      if (dilation[0] !== 1 || dilation[1] !== 1) throw bad(`layer ${i} dilation_rate ${dilation}; only 1`);
      const kernel = pair(c.kernel_size, `layer ${i} kernel_size`);
      const strides = pair(c.strides, `layer ${i} strides`, [1, 1]);
      const padding = c.padding === 'same' ? 'same' : 'valid';
      const filters = Number(c.filters);
      if (!(Number.isInteger(filters) && filters > 0)) throw bad(`layer ${i} filters ${c.filters}`);
      const output = [
        outSize(h, kernel[0], strides[0], padding),
        outSize(w, kernel[1], strides[1], padding),
        filters,
      ];
      layers.push({
        kind: 'conv2d',
        name,
        trainable,
        output,
        kernel,
        channels,
        filters,
        strides,
        padding,
        activation: activation as Activation,
        useBias: c.use_bias !== false,
      });
    } else if (cls === 'MaxPooling2D' || cls === 'AveragePooling2D') {
      const [h, w, ch] = hwc();
      const size = pair(c.pool_size, `layer ${i} pool_size`, [2, 2]);
      const strides = pair(c.strides, `layer ${i} strides`, size);
      const padding = c.padding === 'same' ? 'same' : 'valid';
      const output = [outSize(h, size[0], strides[0], padding), outSize(w, size[1], strides[1], padding), ch];
      layers.push({
        kind: 'pool',
        op: cls === 'MaxPooling2D' ? 'max' : 'avg',
        name,
        trainable,
        output,
        size,
        strides,
        padding,
      });
    } else if (cls === 'BatchNormalization') {
      const axis = c.axis ?? -1;
      if (axis !== -1 && axis !== shape.length)
        throw bad(`layer ${i} axis ${JSON.stringify(axis)}; only the last axis`);
      const momentum = Number(c.momentum ?? 0.99);
      const epsilon = Number(c.epsilon ?? 1e-3);
      if (!(momentum >= 0 && momentum < 1 && epsilon > 0))
        throw bad(`layer ${i} momentum ${momentum}, epsilon ${epsilon}`);
      layers.push({
        kind: 'batchnorm',
        name,
        trainable,
        output: shape,
        channels: shape[shape.length - 1] as number,
        momentum,
        epsilon,
        center: c.center !== false,
        scale: c.scale !== false,
      });
    } else if (cls === 'Dropout') {
      const rate = Number(c.rate);
      if (!(rate >= 0 && rate < 1)) throw bad(`layer ${i} dropout rate ${c.rate}; [0, 1) expected`);
      layers.push({ kind: 'dropout', name, trainable, output: shape, rate });
    } else {
      const target = cls === 'Flatten' ? [shape.reduce((a, b) => a * b, 1)] : (c.target_shape as number[]);
      const size = (s: number[]) => s.reduce((a, b) => a * b, 1);
      if (
        !Array.isArray(target) ||
        !target.every((d) => Number.isInteger(d) && d > 0) ||
        size(target) !== size(shape)
      )
        throw bad(`layer ${i} reshapes ${JSON.stringify(shape)} to ${JSON.stringify(target)}`);
      layers.push({ kind: 'reshape', name, trainable, output: [...target] });
    }
    shape = (layers[layers.length - 1] as Layer).output;
  }
  const last = layers[layers.length - 1];
  if (last?.kind !== 'dense') throw bad('the last layer must be Dense (the classes)');
  return { input: input as number[], layers, classes: last.units };
}

/** Which weights a layer has, in tfjs order, and whether each is trained by gradient. */
export function layerWeights(l: Layer): Array<TensorShape & { role: 'trained' | 'moving' }> {
  const t = (suffix: string, shape: number[], role: 'trained' | 'moving' = 'trained') => ({
    name: `${l.name}/${suffix}`,
    shape,
    role,
  });
  if (l.kind === 'dense')
    return [t('kernel', [l.inputs, l.units]), ...(l.useBias ? [t('bias', [l.units])] : [])];
  if (l.kind === 'conv2d')
    return [
      t('kernel', [l.kernel[0], l.kernel[1], l.channels, l.filters]),
      ...(l.useBias ? [t('bias', [l.filters])] : []),
    ];
  if (l.kind === 'batchnorm')
    return [
      ...(l.scale ? [t('gamma', [l.channels])] : []),
      ...(l.center ? [t('beta', [l.channels])] : []),
      t('moving_mean', [l.channels], 'moving'),
      t('moving_variance', [l.channels], 'moving'),
    ];
  return [];
}

/** The weight tensors of the stack, in tfjs order (what `model.getWeights()` lists). */
export function stackWeightShapes(stack: LayerStack): TensorShape[] {
  return stack.layers.flatMap((l) => layerWeights(l).map(({ name, shape }) => ({ name, shape })));
}
