import type { Logger } from 'pino';
import {
  admitModel,
  type ModelSignature,
  type ModelSource,
  metadataWarmups,
  type TensorMap,
  tensorFromJson,
  tensorToJson,
  zeroInputs,
} from '../../inference/index.js';
import { type Manifest, OutpostError, type TensorValue } from '../../shared/index.js';

/** Tolerance agents check the reference with (cross-engine float differences), |a−b| ≤ abs + rel·|b|. */
export const REFERENCE_TOLERANCE = { abs: 1e-3, rel: 1e-2 } as const;

/** What the hub learns by running a pushed artifact on its own CPU engine. */
export interface HubModelCheck {
  signature: ModelSignature;
  /** Absent when the tensors are larger than `maxElements` (the desired document must stay small). */
  reference: Manifest['reference'] | undefined;
  /** The pushed sample inputs, kept for agents' warm-up when the reference was left out. */
  samples?: Record<string, TensorValue>;
}

/**
 * A reference run's inputs: shaped like the warm-up set admission ran (so a model whose dynamic
 * dims must be more than 1, or whose integer scalar is a sample rate, runs), floats replaced by
 * deterministic values in [0, 1) (a fixed LCG), other tensors as the warm-up had them.
 */
function referenceInputs(signature: ModelSignature, warmupLabel: string | undefined): TensorMap {
  const sets = metadataWarmups(signature.inputs);
  const inputs = sets.find((s) => s.label === warmupLabel)?.inputs ?? zeroInputs(signature.inputs);
  let state = 0x2545f491;
  for (const tensor of Object.values(inputs)) {
    if (tensor.dtype !== 'float32' && tensor.dtype !== 'float64') continue;
    const data = tensor.data as Float32Array | Float64Array;
    for (let i = 0; i < data.length; i++) {
      state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
      data[i] = state / 2 ** 32;
    }
  }
  return inputs;
}

function sampleInputs(samples: Record<string, TensorValue>): TensorMap {
  const inputs: TensorMap = {};
  for (const [name, value] of Object.entries(samples)) inputs[name] = tensorFromJson(name, value);
  return inputs;
}

const elements = (tensors: TensorMap) =>
  Object.values(tensors).reduce((n, t) => n + (t.data as ArrayLike<unknown>).length, 0);

/**
 * Loads the artifact on the hub's CPU engine (`onnx:cpu` or `tfjs:cpu`) through the same
 * admission code agents use, reads its signature, and runs it once on deterministic inputs:
 * those inputs and outputs become the manifest's reference, which every
 * agent engine must reproduce within {@link REFERENCE_TOLERANCE}. With `samples` (pushed with
 * `--sample FILE`) the hub warms up and runs its reference on those inputs instead (a wrong
 * name, dtype or shape is refused naming the tensor). Throws `INFER_MODEL_INVALID` when the
 * hub cannot run the model at all.
 */
export async function checkOnHub(
  source: ModelSource,
  label: string,
  options: { maxElements: number; log: Logger; samples?: Record<string, TensorValue> | undefined },
): Promise<HubModelCheck> {
  const { samples } = options;
  const engine = source.format === 'onnx' ? 'onnx:cpu' : 'tfjs:cpu';
  const admission = await admitModel({
    label,
    source,
    engines: [engine],
    // The hub must run the model to make its reference: one no input set runs is invalid here.
    unwarmed: 'refuse',
    ...(samples ? { samples } : {}),
    settingsFor: () => ({ intraOpThreads: 1, interOpThreads: 1, options: {} }),
    log: options.log,
  });
  if (!admission.model) {
    const reason = admission.rejected.map((r) => `${r.engine} ${r.stage}: ${r.reason}`).join('; ');
    throw new OutpostError('INFER_MODEL_INVALID', `the hub cannot run ${label} on ${engine}: ${reason}`);
  }
  const model = admission.model;
  if (source.format === 'tfjs-layers') {
    // TF.js names a layers model's input tensors per load (`dense_input_1`, `_2`, …), so a
    // reference keyed by input name cannot be reproduced by another load: admission of
    // layers models rests on their warm-up run.
    await model.close().catch(() => undefined);
    return { signature: model.signature, reference: undefined };
  }
  try {
    const inputs = samples
      ? sampleInputs(samples)
      : referenceInputs(model.signature, admission.warmup?.label);
    const outputs = await model.run(inputs);
    if (elements(inputs) + elements(outputs) > options.maxElements) {
      options.log.warn(
        { model: label, elements: elements(inputs) + elements(outputs), max: options.maxElements },
        'reference left out of the manifest: tensors too large for the desired document',
      );
      // Agents still warm up on the sample when it alone fits.
      const keep = samples && elements(inputs) <= options.maxElements;
      return { signature: model.signature, reference: undefined, ...(keep ? { samples } : {}) };
    }
    const json = (tensors: TensorMap) =>
      Object.fromEntries(Object.entries(tensors).map(([name, t]) => [name, tensorToJson(t)]));
    return {
      signature: model.signature,
      reference: { inputs: json(inputs), outputs: json(outputs), tolerance: { ...REFERENCE_TOLERANCE } },
    };
  } finally {
    await model.close().catch(() => undefined);
  }
}
