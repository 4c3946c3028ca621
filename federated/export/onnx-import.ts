import { decodeOnnxModel, hostTensorOf } from '../../inference/index.js';
import { OutpostError } from '../../shared/index.js';
import { parseLayerStack, stackWeightShapes } from '../trainer/layers.js';
import type { LayersModel, ModelWeights } from '../types.js';
import { sizeOf } from '../weights.js';
import { oihwToHwio, TOPOLOGY_METADATA } from './onnx.js';

/**
 * Reads back the trainable model of an fp32 ONNX graph written by `exportOnnx`: the
 * tfjs-layers topology from the model's metadata ({@link TOPOLOGY_METADATA}) and every weight
 * from the initializer of the same name (Conv kernels transposed back to TF.js's [kh, kw, in,
 * out]); exact, so a version registered as ONNX can start the next federated task. Throws
 * `FL_BAD_PARAMS` for an ONNX model without that metadata (not exported by the trainer, or
 * quantized) or whose initializers do not fit the topology.
 */
export function importOnnx(bytes: Uint8Array): LayersModel {
  const model = decodeOnnxModel(bytes);
  const entry = (model.metadataProps ?? []).find((p) => p.key === TOPOLOGY_METADATA);
  if (!entry?.value)
    throw new OutpostError(
      'FL_BAD_PARAMS',
      `the ONNX model carries no ${TOPOLOGY_METADATA} metadata: only the federated exporter's fp32 graphs can be trained`,
    );
  let topology: Record<string, unknown>;
  try {
    topology = JSON.parse(entry.value) as Record<string, unknown>;
  } catch (err) {
    throw new OutpostError('FL_BAD_PARAMS', `${TOPOLOGY_METADATA} is not JSON: ${(err as Error).message}`);
  }
  const stack = parseLayerStack(topology);
  const inits = new Map((model.graph?.initializer ?? []).map((t) => [t.name ?? '', t]));
  const convKernels = new Set(stack.layers.filter((l) => l.kind === 'conv2d').map((l) => `${l.name}/kernel`));
  const weights: ModelWeights = stackWeightShapes(stack).map(({ name, shape }) => {
    const init = inits.get(name);
    if (init === undefined)
      throw new OutpostError('FL_BAD_PARAMS', `the ONNX model has no initializer ${name}`);
    const t = hostTensorOf(init);
    if (!(t.data instanceof Float32Array) || t.data.length !== sizeOf(shape))
      throw new OutpostError(
        'FL_BAD_PARAMS',
        `initializer ${name} is ${t.dtype} [${t.dims}]; float32 with ${sizeOf(shape)} values expected`,
      );
    const values = convKernels.has(name) ? oihwToHwio(t.data, shape) : Float32Array.from(t.data);
    return { name, shape: [...shape], values };
  });
  return { modelTopology: topology, weights };
}
