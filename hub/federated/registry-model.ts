import { readFile } from 'node:fs/promises';
import { encodeUpdate, importOnnx, type ModelWeights } from '../../federated/index.js';
import { unpackTfjsBundle } from '../../inference/index.js';
import { OutpostError } from '../../shared/index.js';
import type { Registry } from '../registry/registry.js';

/** A task's starting model as the task spec embeds it. */
export interface EmbeddedModel {
  topology: Record<string, unknown>;
  shapes: Array<{ name: string; shape: number[] }>;
  /** `encodeUpdate(weights, {compression: 'none'})`, base64. */
  weights: string;
}

/**
 * Reads `name@version` from the registry as a task's starting model: its fp32 `tfjs-layers`
 * variant (a TF.js bundle) → topology and float32 weights in the manifest's order; or, when
 * the fp32 variant is ONNX, the trainable model the federated exporter keeps in it (a version
 * the closed loop registered: fl-core's `importOnnx`). Throws `HUB_MODEL_NOT_FOUND` (via the
 * registry) or `FL_BAD_PARAMS` naming why the version cannot be trained (another format, an
 * ONNX model not exported by the trainer, a non-float32 weight).
 */
export async function loadRegisteredModel(
  registry: Registry,
  name: string,
  version: string,
): Promise<EmbeddedModel> {
  const record = await registry.get(name, version);
  const variant =
    record.variants.find((v) => v.format === 'tfjs-layers' && v.precision === 'fp32') ??
    record.variants.find((v) => v.format === 'onnx' && v.precision === 'fp32');
  if (variant === undefined) {
    const have = record.variants.map((v) => `${v.format}/${v.precision}`).join(', ');
    throw new OutpostError(
      'FL_BAD_PARAMS',
      `${name}@${version} has no fp32 tfjs-layers or ONNX variant to train (has ${have})`,
    );
  }
  const bytes = await readFile(registry.artifacts.pathOf(variant.sha256));
  if (variant.format === 'onnx') {
    let model: ReturnType<typeof importOnnx>;
    try {
      model = importOnnx(bytes);
    } catch (err) {
      throw new OutpostError('FL_BAD_PARAMS', `${name}@${version}: ${(err as Error).message}`);
    }
    return embedded(model.modelTopology, model.weights);
  }
  const source = unpackTfjsBundle(bytes);
  if (source.format !== 'tfjs-layers') {
    throw new OutpostError('FL_BAD_PARAMS', `${name}@${version}: the bundle holds a ${source.format} model`);
  }
  const weights: ModelWeights = [];
  for (const group of source.modelJson.weightsManifest) {
    const bytes = Buffer.concat(group.paths.map((p) => source.shards.get(p) ?? new Uint8Array()));
    let at = 0;
    for (const w of group.weights) {
      if (w.dtype !== 'float32' || 'quantization' in w) {
        throw new OutpostError('FL_BAD_PARAMS', `${name}@${version}: weight ${w.name} is not plain float32`);
      }
      const n = w.shape.reduce((a, d) => a * d, 1);
      const values = new Float32Array(n);
      new Uint8Array(values.buffer).set(bytes.subarray(at, at + n * 4));
      at += n * 4;
      weights.push({ name: w.name, shape: [...w.shape], values });
    }
  }
  return embedded(source.modelJson.modelTopology as Record<string, unknown>, weights);
}

function embedded(topology: Record<string, unknown>, weights: ModelWeights): EmbeddedModel {
  return {
    topology,
    shapes: weights.map((w) => ({ name: w.name, shape: [...w.shape] })),
    weights: Buffer.from(encodeUpdate(weights, { compression: 'none' })).toString('base64'),
  };
}
