import type { Logger } from 'pino';
import type { EngineName, EngineRejection, Manifest } from '../../shared/index.js';
import { ENGINES } from '../engines/registry.js';
import type { Engine, EngineSettings, LoadedModel } from '../engines/types.js';
import type { ModelSource } from '../model/source.js';
import { assertInputs } from '../signature/validate.js';
import type { TensorMap } from '../tensor/host-tensor.js';
import { tensorFromJson } from '../tensor/json-codec.js';
import { compareWithReference, describeMismatch } from './compare.js';
import { zeroInputs } from './warmup-inputs.js';

/** What to admit: a model, its optional reference, and the engines to try in order. */
export interface AdmissionRequest {
  /** For logs, e.g. `digits@1.0.0`. */
  label: string;
  source: ModelSource;
  reference?: Manifest['reference'];
  /** The firmware profile's engine order; tried one at a time. */
  engines: readonly EngineName[];
  settingsFor(engine: EngineName): Omit<EngineSettings, 'log'>;
  log: Logger;
  /** The engine table; {@link ENGINES} by default (tests pass the same table). */
  registry?: Readonly<Record<EngineName, Engine>>;
}

/** The outcome: the admitted model (undefined when none was) and every rejection, in order. */
export interface Admission {
  model: LoadedModel | undefined;
  rejected: EngineRejection[];
}

const MAX_REASON = 2000;

function reasonOf(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return text.trim().slice(0, MAX_REASON) || 'unknown error';
}

/**
 * Admission (docs/architecture.md "Engines"): tries each engine in order and admits
 * the first whose session opens, whose warm-up run succeeds (on the reference inputs, or
 * zeros when there is no reference) and, when the manifest has a reference, whose outputs
 * match it within tolerance. Every engine passed over is kept with its real error or the
 * mismatch, and logged at `warn` (a fallback). Never throws; rejected sessions are closed.
 */
export async function admitModel(request: AdmissionRequest): Promise<Admission> {
  const registry = request.registry ?? ENGINES;
  const rejected: EngineRejection[] = [];
  const reject = (r: EngineRejection) => {
    rejected.push(r);
    request.log.warn(
      { model: request.label, engine: r.engine, stage: r.stage, reason: r.reason, mismatch: r.mismatch },
      `engine ${r.engine} rejected for ${request.label}: ${r.reason}`,
    );
  };
  for (const name of request.engines) {
    const engine = registry[name];
    if (!engine.formats.includes(request.source.format)) {
      reject({
        engine: name,
        stage: 'unsupported',
        reason: `${name} cannot read ${request.source.format} models`,
      });
      continue;
    }
    let model: LoadedModel;
    try {
      model = await engine.load(request.source, { ...request.settingsFor(name), log: request.log });
    } catch (err) {
      reject({ engine: name, stage: 'load', reason: reasonOf(err) });
      continue;
    }
    const verdict = await check(model, request);
    if (verdict === undefined) {
      request.log.info(
        { model: request.label, engine: name, passedOver: rejected.length },
        'engine admitted',
      );
      return { model, rejected };
    }
    reject(verdict);
    await model.close().catch(() => undefined);
  }
  return { model: undefined, rejected };
}

async function check(model: LoadedModel, request: AdmissionRequest): Promise<EngineRejection | undefined> {
  const { reference } = request;
  let inputs: TensorMap;
  try {
    if (reference) {
      inputs = {};
      for (const [name, value] of Object.entries(reference.inputs))
        inputs[name] = tensorFromJson(name, value);
      assertInputs(model.signature, inputs, `reference of ${request.label}`);
    } else inputs = zeroInputs(model.signature.inputs);
  } catch (err) {
    return { engine: model.engine, stage: 'reference', reason: reasonOf(err) };
  }
  let outputs: TensorMap;
  try {
    outputs = await model.run(inputs);
  } catch (err) {
    return { engine: model.engine, stage: 'warmup', reason: reasonOf(err) };
  }
  if (!reference) return undefined;
  let mismatch: ReturnType<typeof compareWithReference>;
  try {
    mismatch = compareWithReference(outputs, reference.outputs, reference.tolerance);
  } catch (err) {
    return { engine: model.engine, stage: 'reference', reason: reasonOf(err) };
  }
  if (!mismatch) return undefined;
  return { engine: model.engine, stage: 'reference', reason: describeMismatch(mismatch), mismatch };
}
