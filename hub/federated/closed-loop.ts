import type { Logger } from 'pino';
import { exportOnnx, type ModelWeights } from '../../federated/index.js';
import { packTfjsBundle, type TfjsModelJson } from '../../inference/index.js';
import { formatIssues, OutpostError, type RolloutRequest, RolloutRequestSchema } from '../../shared/index.js';
import type { Registry } from '../registry/registry.js';
import type { ClosedLoopHook } from './closed-loop-run.js';

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

/**
 * The closed loop item 6. `register`: the next patch version above every
 * registered version of the model, as a tfjs-layers bundle (fp32) with lineage `parent`
 * (the task's best version so far, else its starting version), `round` and `source`
 * `fl:{task}`. `rollout`: the task's `closedLoop.rollout` fields, with the model, the version
 * and the task's selector, validated as a rollout request and started through the rollouts
 * module. Variants: fp32 = the tfjs-layers bundle (trainable, TF.js engines), int8 = the
 * ONNX export quantized (ONNX engines; profiles that prefer int8 take it). A failed export
 * leaves the tfjs-layers variant alone, with the reason recorded.
 */
export function createClosedLoop(deps: ClosedLoopDeps): ClosedLoopHook {
  return {
    async register({ task, spec, round, weights, accuracy }) {
      const name = spec.model.name;
      const versions = (await deps.registry.list(name)).map((v) => v.version);
      const top = [spec.model.version, ...versions].sort(compareCore).at(-1) ?? spec.model.version;
      const [major = 0, minor = 0, patch = 0] = semverParts(top);
      const version = `${major}.${minor}.${patch + 1}`;
      const files = layersModelFiles(spec.topology, weights);
      const bytes = packTfjsBundle({
        format: 'tfjs-layers',
        modelJson: files.modelJson,
        modelJsonBytes: files.modelJsonBytes,
        shards: new Map([['weights.bin', files.shard]]),
      });
      const parent = task.best?.version ?? spec.model.version;
      await deps.registry.registerVersion({
        name,
        version,
        precision: 'fp32',
        bytes,
        lineage: { parent, round, source: `fl:${task.id}` },
      });
      // The ONNX serving variant (int8, for profiles that prefer it), from fl-core's exporter.
      let onnx: Record<string, unknown>;
      try {
        const exported = exportOnnx({ modelTopology: spec.topology, weights }, { name });
        await deps.registry.registerVersion({
          name,
          version,
          precision: 'int8',
          bytes: exported.int8.bytes,
          lineage: { parent, round, source: `fl:${task.id}` },
        });
        onnx = { precision: 'int8', bytes: exported.int8.bytes.byteLength };
      } catch (err) {
        deps.log.warn(
          { err, task: task.id, version },
          'no ONNX int8 serving variant; the version has tfjs-layers only',
        );
        onnx = { error: (err as Error).message };
      }
      deps.log.info(
        { task: task.id, round, model: name, version, parent, accuracy },
        'federated model version registered',
      );
      return { version, parent, format: 'tfjs-layers', bytes: bytes.byteLength, onnx };
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
