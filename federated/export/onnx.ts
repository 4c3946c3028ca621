import { OnnxModelBuilder } from '../../inference/index.js';
import { OutpostError } from '../../shared/index.js';
import { type Layer, layerWeights, parseLayerStack, stackWeightShapes } from '../trainer/layers.js';
import type { LayersModel, WeightTensor } from '../types.js';
import { sameShapes } from '../weights.js';

/** The `metadata_props` key under which an export keeps the model's tfjs-layers topology (JSON). */
export const TOPOLOGY_METADATA = 'outpost.tfjs-layers.topology';

const ONNX_ACTIVATION: Record<string, string | null> = {
  linear: null,
  relu: 'Relu',
  sigmoid: 'Sigmoid',
  tanh: 'Tanh',
  softmax: 'Softmax',
};

/** Options of {@link exportOnnx}. */
export interface ExportOptions {
  /** Graph name (default `federated`). */
  name?: string;
}

/** ONNX's [top, left, bottom, right] pads of a Keras `same` window (TensorFlow puts the odd pixel at the end). */
function samePads(input: number[], output: number[], kernel: number[], strides: number[]): number[] {
  const total = [0, 1].map((a) =>
    Math.max(
      ((output[a] as number) - 1) * (strides[a] as number) + (kernel[a] as number) - (input[a] as number),
      0,
    ),
  );
  const begin = total.map((t) => Math.floor(t / 2));
  return [...begin, ...total.map((t, a) => t - (begin[a] as number))];
}

/** A Conv2D kernel from TF.js's [kh, kw, in, out] to ONNX's [out, in, kh, kw]. */
export function hwioToOihw(values: Float32Array, shape: number[]): Float32Array {
  const [kh, kw, ci, co] = shape as [number, number, number, number];
  const out = new Float32Array(values.length);
  for (let h = 0; h < kh; h++)
    for (let w = 0; w < kw; w++)
      for (let i = 0; i < ci; i++)
        for (let o = 0; o < co; o++)
          out[((o * ci + i) * kh + h) * kw + w] = values[((h * kw + w) * ci + i) * co + o] as number;
  return out;
}

/** The inverse of {@link hwioToOihw}: `shape` is the TF.js [kh, kw, in, out]. */
export function oihwToHwio(values: Float32Array, shape: number[]): Float32Array {
  const [kh, kw, ci, co] = shape as [number, number, number, number];
  const out = new Float32Array(values.length);
  for (let h = 0; h < kh; h++)
    for (let w = 0; w < kw; w++)
      for (let i = 0; i < ci; i++)
        for (let o = 0; o < co; o++)
          out[((h * kw + w) * ci + i) * co + o] = values[((o * ci + i) * kh + h) * kw + w] as number;
  return out;
}

/**
 * Exports a Sequential tfjs-layers model the trainer runs (Dense, Conv2D, MaxPooling2D,
 * AveragePooling2D, BatchNormalization, Dropout, Flatten, Reshape; `linear`/`relu`/
 * `sigmoid`/`tanh`/`softmax`) to an fp32 ONNX graph with the project's builder:
 *
 * - input `x` float32 `[batch, ...the model's input shape]`, as TF.js takes it;
 * - Dense → MatMul (kernel [in, out]) + Add (bias) + the activation;
 * - Conv2D → Conv (kernel transposed to [out, in, kh, kw], explicit pads for `same`, as
 *   TensorFlow pads) + the activation; pooling → MaxPool / AveragePool (padding not counted);
 *   feature maps run channels-first inside the graph: a Transpose where a channels-last
 *   tensor meets a Conv/pool/BatchNormalization, and back before a Flatten/Reshape (Keras
 *   flattens channels-last);
 * - BatchNormalization → BatchNormalization with the moving statistics (inference mode, as
 *   the model predicts; onnxruntime folds it into the Conv before it when it loads the model);
 * - Dropout → nothing (identity at inference);
 * - outputs `logits` (the last Dense before its activation) and `probs` (its softmax; another
 *   last activation gives `activations`).
 *
 * Every initializer is named after the TF.js weight it holds, and the topology is kept in
 * the model's metadata ({@link TOPOLOGY_METADATA}), so {@link importOnnx} reads the trainable
 * model back bit for bit. Throws `FL_BAD_PARAMS` when the weights do not fit the topology.
 */
export function exportOnnx(model: LayersModel, options: ExportOptions = {}): Uint8Array {
  const stack = parseLayerStack(model.modelTopology);
  if (!sameShapes(model.weights, stackWeightShapes(stack)))
    throw new OutpostError('FL_BAD_PARAMS', 'export: the weights do not match the topology');
  const b = new OnnxModelBuilder(options.name ?? 'federated').input('x', 'float32', [
    'batch',
    ...stack.input,
  ]);
  b.metadata(TOPOLOGY_METADATA, JSON.stringify(model.modelTopology));
  let h = 'x';
  // Rank-4 tensors are channels-last (as TF.js has them) or channels-first (as ONNX's ops want).
  let layout: 'nhwc' | 'nchw' | null = stack.input.length === 3 ? 'nhwc' : null;
  let shape = stack.input; // the current tensor's shape without the batch, channels-last
  let w = 0;
  const take = (): WeightTensor => model.weights[w++] as WeightTensor;
  const constant = (name: string, values: Float32Array, dims: number[]) =>
    b.initializer(name, { dtype: 'float32', dims, data: values });
  const step = (op: string, inputs: string[], out: string, attrs: Parameters<typeof b.node>[3] = {}) => {
    b.node(op, inputs, [out], attrs);
    h = out;
  };
  const toChannelsFirst = (l: Layer) => {
    if (layout !== 'nhwc') return;
    step('Transpose', [h], `${l.name}_nchw`, { perm: [0, 3, 1, 2] });
    layout = 'nchw';
  };
  const toChannelsLast = (l: Layer) => {
    if (layout !== 'nchw') return;
    step('Transpose', [h], `${l.name}_nhwc`, { perm: [0, 2, 3, 1] });
    layout = 'nhwc';
  };
  const activation = (l: Layer & { activation: string }, last: boolean) => {
    const op = ONNX_ACTIVATION[l.activation];
    if (last || !op) return;
    step(op, [h], `${l.name}_${l.activation}`, op === 'Softmax' ? { axis: layout === 'nchw' ? 1 : -1 } : {});
  };
  stack.layers.forEach((l, i) => {
    const last = i === stack.layers.length - 1;
    switch (l.kind) {
      case 'dense': {
        const kernel = take();
        constant(kernel.name, kernel.values, [...kernel.shape]);
        step('MatMul', [h, kernel.name], last && !l.useBias ? 'logits' : `${l.name}_matmul`);
        if (l.useBias) {
          const bias = take();
          constant(bias.name, bias.values, [...bias.shape]);
          step('Add', [h, bias.name], last ? 'logits' : `${l.name}_add`);
        }
        activation(l, last);
        break;
      }
      case 'conv2d': {
        toChannelsFirst(l);
        const kernel = take();
        const [kh, kw, ci, co] = kernel.shape as [number, number, number, number];
        constant(kernel.name, hwioToOihw(kernel.values, kernel.shape), [co, ci, kh, kw]);
        const inputs = [h, kernel.name];
        if (l.useBias) {
          const bias = take();
          constant(bias.name, bias.values, [...bias.shape]);
          inputs.push(bias.name);
        }
        const pads = l.padding === 'same' ? samePads(shape, l.output, l.kernel, l.strides) : [0, 0, 0, 0];
        step('Conv', inputs, `${l.name}_conv`, {
          kernel_shape: [kh, kw],
          strides: [...l.strides],
          pads,
          dilations: [1, 1],
        });
        activation(l, last);
        break;
      }
      case 'pool': {
        toChannelsFirst(l);
        const pads = l.padding === 'same' ? samePads(shape, l.output, l.size, l.strides) : [0, 0, 0, 0];
        step(l.op === 'max' ? 'MaxPool' : 'AveragePool', [h], `${l.name}_pool`, {
          kernel_shape: [...l.size],
          strides: [...l.strides],
          pads,
          ...(l.op === 'avg' ? { count_include_pad: 0 } : {}),
        });
        break;
      }
      case 'batchnorm': {
        toChannelsFirst(l);
        const tensors = layerWeights(l).map(() => take());
        const named = (suffix: string) => tensors.find((t) => t.name === `${l.name}/${suffix}`);
        const param = (suffix: string, fill: number) => {
          const t = named(suffix);
          if (t) {
            constant(t.name, t.values, [...t.shape]);
            return t.name;
          }
          const name = `${l.name}/onnx_${suffix}`;
          constant(name, new Float32Array(l.channels).fill(fill), [l.channels]);
          return name;
        };
        const inputs = [
          h,
          param('gamma', 1),
          param('beta', 0),
          param('moving_mean', 0),
          param('moving_variance', 1),
        ];
        step('BatchNormalization', inputs, `${l.name}_bn`, { epsilon: { float: l.epsilon } });
        break;
      }
      case 'dropout':
        break;
      case 'reshape': {
        toChannelsLast(l);
        const dims = `${l.name}_shape`;
        b.initializer(dims, {
          dtype: 'int64',
          dims: [l.output.length + 1],
          data: BigInt64Array.from([0, ...l.output].map(BigInt)),
        });
        step('Reshape', [h, dims], `${l.name}_reshape`);
        layout = l.output.length === 3 ? 'nhwc' : null;
        break;
      }
    }
    shape = l.output;
  });
  const out = stack.layers[stack.layers.length - 1] as Extract<Layer, { kind: 'dense' }>;
  b.output('logits', 'float32', ['batch', out.units]);
  const lastOp = ONNX_ACTIVATION[out.activation];
  if (lastOp) {
    const name = out.activation === 'softmax' ? 'probs' : 'activations';
    b.node(lastOp, ['logits'], [name], lastOp === 'Softmax' ? { axis: -1 } : {});
    b.output(name, 'float32', ['batch', out.units]);
  }
  return b.build();
}

/** A TF.js layers `model.json` and its single weight shard, for registering a federated model as `tfjs-layers`. */
export function toTfjsArtifacts(
  model: LayersModel,
  shardName = 'group1-shard1of1.bin',
): { modelJson: Record<string, unknown>; shard: Uint8Array } {
  const total = model.weights.reduce((n, w) => n + w.values.length, 0);
  const shard = new Uint8Array(total * 4);
  const view = new DataView(shard.buffer);
  let o = 0;
  for (const w of model.weights)
    for (const v of w.values) {
      view.setFloat32(o, v, true);
      o += 4;
    }
  return {
    modelJson: {
      format: 'layers-model',
      generatedBy: 'outpost federated',
      convertedBy: null,
      modelTopology: model.modelTopology,
      weightsManifest: [
        {
          paths: [shardName],
          weights: model.weights.map((w) => ({ name: w.name, shape: [...w.shape], dtype: 'float32' })),
        },
      ],
    },
    shard,
  };
}
