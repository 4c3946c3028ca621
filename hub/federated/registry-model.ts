import { readFile } from 'node:fs/promises';
import { encodeUpdate, type ModelWeights } from '../../federated/index.js';
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
 * Reads `name@version` from the registry as a task's starting model: its
 * fp32 `tfjs-layers` variant (a TF.js bundle) → topology and float32 weights in the
 * manifest's order. Throws `HUB_MODEL_NOT_FOUND` (via the registry) or `FL_BAD_PARAMS`
 * naming why the version cannot be trained (another format, a non-float32 weight).
 */
export async function loadRegisteredModel(
  registry: Registry,
  name: string,
  version: string,
): Promise<EmbeddedModel> {
  const record = await registry.get(name, version);
  const variant = record.variants.find((v) => v.format === 'tfjs-layers' && v.precision === 'fp32');
  if (variant === undefined) {
    const have = record.variants.map((v) => `${v.format}/${v.precision}`).join(', ');
    throw new OutpostError(
      'FL_BAD_PARAMS',
      `${name}@${version} has no fp32 tfjs-layers variant to train (has ${have})`,
    );
  }
  const source = unpackTfjsBundle(await readFile(registry.artifacts.pathOf(variant.sha256)));
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
  return {
    topology: source.modelJson.modelTopology as Record<string, unknown>,
    shapes: weights.map((w) => ({ name: w.name, shape: [...w.shape] })),
    weights: Buffer.from(encodeUpdate(weights, { compression: 'none' })).toString('base64'),
  };
}
