import type { Logger } from 'pino';
import {
  exportServing,
  type ModelWeights,
  type ParityReport,
  type ServingExport,
} from '../../federated/index.js';
import { type DigitSet, loadDigits, packTfjsBundle, type TfjsModelJson } from '../../inference/index.js';
import { formatIssues, OutpostError, type RolloutRequest, RolloutRequestSchema } from '../../shared/index.js';
import type { Registry } from '../registry/registry.js';
import type { ClosedLoopHook } from './closed-loop-run.js';
import type { FlTaskSpec } from './task-spec.js';

/** The weights as a TF.js layers model: model.json and one float32 shard. */
export function layersModelFiles(
  topology: Record<string, unknown>,
  weights: ModelWeights,
): { modelJson: TfjsModelJson; modelJsonBytes: Uint8Array; shard: Uint8Array } {
  const modelJson: TfjsModelJson = {
    format: 'layers-model',
    generatedBy: 'outpost federated',
    modelTopology: topology,
    weightsManifest: [
      {
        paths: ['weights.bin'],
        weights: weights.map((w) => ({ name: w.name, shape: [...w.shape], dtype: 'float32' })),
      },
    ],
  };
  const total = weights.reduce((n, w) => n + w.values.length, 0);
  const flat = new Float32Array(total);
  let at = 0;
  for (const w of weights) {
    flat.set(w.values, at);
    at += w.values.length;
  }
  return {
    modelJson,
    modelJsonBytes: Buffer.from(JSON.stringify(modelJson), 'utf8'),
    shard: new Uint8Array(flat.buffer),
  };
}

function semverParts(v: string): number[] {
  return (v.split(/[-+]/)[0] ?? '').split('.').map((n) => Number(n) || 0);
}

/** -1, 0, 1 comparing the numeric cores of two versions (pre-release tags ignored). */
export function compareCore(a: string, b: string): number {
  const x = semverParts(a);
  const y = semverParts(b);
  for (let i = 0; i < 3; i++) {
    const d = (x[i] ?? 0) - (y[i] ?? 0);
    if (d !== 0) return Math.sign(d);
  }
  return 0;
}

/** What the closed loop needs. */
export interface ClosedLoopDeps {
  registry: Registry;
  /** Starts a rollout (the rollouts module's service); absent: rollouts are refused. */
  startRollout?: ((request: RolloutRequest) => Promise<{ id: string }>) | undefined;
  log: Logger;
}

/** The digits a version's variants are checked on: the task's hub-eval set (loaded once). */
function parityInputs(cache: Map<string, DigitSet>, spec: FlTaskSpec): DigitSet {
  const e = spec.hubEval;
  if (e === undefined)
    throw new OutpostError('FL_BAD_PARAMS', 'closedLoop needs hubEval: its digits are the parity inputs');
  const key = `${e.perClass}:${e.offset}`;
  let set = cache.get(key);
  if (set === undefined) {
    set = loadDigits(e.perClass, e.offset);
    cache.set(key, set);
  }
  return set;
}

/**
 * The closed loop. `register`: the next patch version above every registered version of
 * the model, with lineage `parent` (the task's best version so far, else its starting
 * version), `round` and `source` `fl:{task}`. Before anything is registered the model is
 * exported to ONNX and checked on the task's hub-eval digits (fl-core's `exportServing`):
 * the fp32 export on onnxruntime must stay within `closedLoop.parity.fp32` (default 1e-4) of
 * the TF.js model in probability, else nothing is registered (`FL_EXPORT_PARITY`); the int8
 * variant (the project's quantizer, calibrated on the same digits) within
 * `closedLoop.parity.int8` (default 0.1), else the version has no int8 variant. Variants by
 * `closedLoop.format`: `onnx` (default) fp32 = the ONNX export (it carries the topology, so
 * the version can start the next task), int8 = the quantized export; `tfjs-layers` fp32 =
 * the TF.js layers bundle (registered even when the ONNX export fails its check, then
 * without an int8 variant), int8 = the quantized ONNX export. `rollout`: the task's
 * `closedLoop.rollout` fields, with the model, the version and the task's selector,
 * validated as a rollout request and started through the rollouts module.
 */
export function createClosedLoop(deps: ClosedLoopDeps): ClosedLoopHook {
  const digits = new Map<string, DigitSet>();
  return {
    async register({ task, spec, round, weights, accuracy }) {
      const name = spec.model.name;
      const format = spec.closedLoop?.format ?? 'onnx';
      const set = parityInputs(digits, spec);
      const model = { modelTopology: spec.topology, weights };
      let serving: ServingExport | null = null;
      let exportError: string | undefined;
      try {
        serving = await exportServing(model, {
          name,
          inputs: set.pixels,
          count: set.labels.length,
          ...(spec.closedLoop?.parity ? { tolerance: spec.closedLoop.parity } : {}),
        });
      } catch (err) {
        // The ONNX fp32 is the version itself: nothing is registered. A tfjs-layers version
        // is the TF.js model, registered without an ONNX variant.
        if (format === 'onnx') throw err;
        exportError = `ONNX export: ${(err as Error).message}`;
      }
      const versions = (await deps.registry.list(name)).map((v) => v.version);
      const top = [spec.model.version, ...versions].sort(compareCore).at(-1) ?? spec.model.version;
      const [major = 0, minor = 0, patch = 0] = semverParts(top);
      const version = `${major}.${minor}.${patch + 1}`;
      const parent = task.best?.version ?? spec.model.version;
      const lineage = { parent, round, source: `fl:${task.id}` };
      let fp32: Uint8Array;
      if (format === 'onnx' && serving) fp32 = serving.fp32;
      else {
        const files = layersModelFiles(spec.topology, weights);
        fp32 = packTfjsBundle({
          format: 'tfjs-layers',
          modelJson: files.modelJson,
          modelJsonBytes: files.modelJsonBytes,
          shards: new Map([['weights.bin', files.shard]]),
        });
      }
      await deps.registry.registerVersion({ name, version, precision: 'fp32', bytes: fp32, lineage });
      const variants: Array<Record<string, unknown>> = [
        {
          format,
          precision: 'fp32',
          bytes: fp32.byteLength,
          ...(format === 'onnx' ? { parity: serving?.parity.fp32 } : {}),
        },
      ];
      let int8Error = exportError ?? serving?.int8Error;
      if (serving?.int8) {
        try {
          await deps.registry.registerVersion({
            name,
            version,
            precision: 'int8',
            bytes: serving.int8.bytes,
            lineage,
          });
          variants.push({
            format: 'onnx',
            precision: 'int8',
            bytes: serving.int8.bytes.byteLength,
            parity: serving.parity.int8,
            summary: serving.int8.summary,
          });
        } catch (err) {
          int8Error = `int8 registration failed: ${(err as Error).message}`;
        }
      }
      if (int8Error !== undefined)
        deps.log.warn({ task: task.id, version, reason: int8Error }, 'the version has no int8 variant');
      deps.log.info(
        {
          task: task.id,
          round,
          model: name,
          version,
          parent,
          accuracy,
          parity: Object.fromEntries(
            variants.map((v) => [v.precision, (v.parity as ParityReport | undefined)?.maxAbsDiff]),
          ),
        },
        'federated model version registered',
      );
      return {
        version,
        parent,
        format,
        variants,
        ...(int8Error !== undefined ? { int8Error } : {}),
        ...(serving?.parity.int8 && !serving.int8 ? { int8Parity: serving.parity.int8 } : {}),
      };
    },
    async rollout({ task, spec, version }) {
      if (spec.closedLoop?.rollout === undefined) return { skipped: 'no rollout policy' };
      if (deps.startRollout === undefined)
        throw new OutpostError('FL_BAD_PARAMS', 'this hub runs no rollouts');
      const parsed = RolloutRequestSchema.safeParse({
        selector: spec.selector,
        ...spec.closedLoop.rollout,
        model: spec.model.name,
        version,
      });
      if (!parsed.success) {
        throw new OutpostError(
          'FL_BAD_PARAMS',
          `closedLoop.rollout: ${formatIssues(parsed.error).join('; ')}`,
        );
      }
      const rollout = await deps.startRollout(parsed.data);
      deps.log.info({ task: task.id, version, rollout: rollout.id }, 'closed-loop rollout started');
      return { id: rollout.id, version };
    },
  };
}
