import { OnnxModelBuilder, quantizeInt8 } from '../../inference/index.js';
import { OutpostError } from '../../shared/index.js';
import { type DenseLayer, denseWeightShapes, parseDenseStack } from '../trainer/topology.js';
import type { LayersModel, WeightTensor } from '../types.js';
import { sameShapes } from '../weights.js';

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

/** The serving variants of a federated model. */
export interface ExportedOnnx {
  /** float32 model: x float32 [batch, in] → `logits` [batch, classes] (and `probs` when the last layer is softmax). */
  fp32: Uint8Array;
  /** The same graph with int8 weights (inference/quantize, per-channel DequantizeLinear); summary of what changed. */
  int8: { bytes: Uint8Array; summary: string };
}

/**
 * Exports a tfjs-layers Dense stack (the trainer's models) to ONNX with the project's own
 * builder: per layer MatMul(kernel [in, out]) + Add(bias) + the activation;
 * a softmax last layer gives both `logits` (before it) and `probs`, like the digits
 * classifier. The int8 variant goes through `quantizeInt8`. Throws `FL_BAD_PARAMS` when the
 * weights do not fit the topology.
 */
export function exportOnnx(model: LayersModel, options: ExportOptions = {}): ExportedOnnx {
  const layers = parseDenseStack(model.modelTopology);
  const shapes = denseWeightShapes(layers);
  if (!sameShapes(model.weights, shapes))
    throw new OutpostError('FL_BAD_PARAMS', 'export: the weights do not match the topology');
  const first = layers[0] as DenseLayer;
  const last = layers[layers.length - 1] as DenseLayer;
  const b = new OnnxModelBuilder(options.name ?? 'federated').input('x', 'float32', ['batch', first.inputs]);
  let w = 0;
  let h = 'x';
  layers.forEach((l, i) => {
    const kernel = model.weights[w++] as WeightTensor;
    b.initializer(kernel.name, { dtype: 'float32', dims: [...kernel.shape], data: kernel.values });
    b.node('MatMul', [h, kernel.name], [`${l.name}_matmul`]);
    h = `${l.name}_matmul`;
    if (l.useBias) {
      const bias = model.weights[w++] as WeightTensor;
      b.initializer(bias.name, { dtype: 'float32', dims: [...bias.shape], data: bias.values });
      b.node('Add', [h, bias.name], [i === layers.length - 1 ? 'logits' : `${l.name}_add`]);
      h = i === layers.length - 1 ? 'logits' : `${l.name}_add`;
    } else if (i === layers.length - 1) {
      b.node('Identity', [h], ['logits']);
      h = 'logits';
    }
    const op = ONNX_ACTIVATION[l.activation];
    if (i < layers.length - 1 && op) {
      b.node(op, [h], [`${l.name}_act`], op === 'Softmax' ? { axis: 1 } : {});
      h = `${l.name}_act`;
    }
  });
  b.output('logits', 'float32', ['batch', last.units]);
  const lastOp = ONNX_ACTIVATION[last.activation];
  if (lastOp) {
    const out = last.activation === 'softmax' ? 'probs' : 'activations';
    b.node(lastOp, ['logits'], [out], lastOp === 'Softmax' ? { axis: 1 } : {});
    b.output(out, 'float32', ['batch', last.units]);
  }
  const fp32 = b.build();
  const q = quantizeInt8(fp32, { perChannel: true });
  const skipped = q.skipped.map((s) => `${s.node} (${s.reason})`).join(', ');
  return {
    fp32,
    int8: {
      bytes: q.bytes,
      summary: `int8 weights: ${q.quantized.join(', ') || 'none'}${skipped ? `; left float32: ${skipped}` : ''}`,
    },
  };
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
