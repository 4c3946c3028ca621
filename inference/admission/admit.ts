import type { Logger } from 'pino';
import type {
  EngineName,
  EngineRejection,
  Manifest,
  TensorValue,
  UnwarmedPolicy,
  WarmupRecord,
} from '../../shared/index.js';
import { ENGINES } from '../engines/registry.js';
import type { Engine, EngineSettings, LoadedModel } from '../engines/types.js';
import type { ModelSource } from '../model/source.js';
import { assertInputs } from '../signature/validate.js';
import type { TensorMap } from '../tensor/host-tensor.js';
import { tensorFromJson } from '../tensor/json-codec.js';
import { compareWithReference, describeMismatch } from './compare.js';
import { metadataWarmups } from './warmup-inputs.js';

/** What to admit: a model, its optional reference, and the engines to try in order. */
export interface AdmissionRequest {
  /** For logs, e.g. `digits@1.0.0`. */
  label: string;
  source: ModelSource;
  reference?: Manifest['reference'];
  /** Sample inputs to warm up on when there is no reference (the manifest's `samples`). */
  samples?: Record<string, TensorValue>;
  /**
   * When no input set can warm any engine up and there is neither a reference nor samples:
   * `admit` (default) admits the first opened session with the reason recorded; `refuse`
   * admits nothing (the version then needs a reference or samples).
   */
  unwarmed?: UnwarmedPolicy;
  /** The firmware profile's engine order; tried one at a time. */
  engines: readonly EngineName[];
  settingsFor(engine: EngineName): Omit<EngineSettings, 'log'>;
  log: Logger;
  /** The engine table; {@link ENGINES} by default (tests pass the same table). */
  registry?: Readonly<Record<EngineName, Engine>>;
}

/** The outcome: the admitted model (undefined when none was), how it was warmed, every rejection. */
export interface Admission {
  model: LoadedModel | undefined;
  warmup?: WarmupRecord;
  rejected: EngineRejection[];
}

const MAX_REASON = 2000;

function reasonOf(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return text.trim().slice(0, MAX_REASON) || 'unknown error';
}

/** A long runtime message kept to its start and its end (where onnxruntime puts the shapes). */
function brief(text: string): string {
  return text.length <= 360 ? text : `${text.slice(0, 160)} … ${text.slice(-180)}`;
}

const dimsOf = (inputs: TensorMap) =>
  Object.fromEntries(Object.entries(inputs).map(([n, t]) => [n, [...t.dims]]));

type Verdict = { ok: WarmupRecord } | { rejection: EngineRejection; unwarmable?: boolean };

/**
 * Admission (docs/models.md "Warm-up and admission"): tries each engine in order and admits
 * the first whose session opens, whose warm-up run succeeds and, when the manifest has a
 * reference, whose outputs match it within tolerance. Warm-up inputs are, in order, the
 * reference's, the sample inputs, or sets made from the model's metadata (dynamic dims from
 * a ladder of sizes). When only metadata sets exist and none runs on any engine, the first
 * opened session is admitted with the reason recorded (`warmup.source: 'none'`) unless the
 * policy is `refuse`. Every engine passed over is kept with its real error or the mismatch,
 * and logged at `warn`. Never throws; sessions not admitted are closed.
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
  let unwarmed: { model: LoadedModel; reason: string } | undefined;
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
    if ('ok' in verdict) {
      request.log.info(
        { model: request.label, engine: name, passedOver: rejected.length, warmup: verdict.ok },
        'engine admitted',
      );
      await unwarmed?.model.close().catch(() => undefined);
      return { model, warmup: verdict.ok, rejected };
    }
    reject(verdict.rejection);
    if (verdict.unwarmable && !unwarmed && request.unwarmed !== 'refuse') {
      unwarmed = { model, reason: verdict.rejection.reason };
    } else await model.close().catch(() => undefined);
  }
  if (!unwarmed) return { model: undefined, rejected };
  const reason =
    `no input set made from the model's metadata ran on any engine; admitted ${unwarmed.model.engine} ` +
    `on its opened session without a warm-up (give a reference or --sample inputs to check it): ` +
    unwarmed.reason;
  request.log.warn(
    { model: request.label, engine: unwarmed.model.engine, reason },
    'engine admitted unwarmed',
  );
  return {
    model: unwarmed.model,
    warmup: { source: 'none', reason: reason.slice(0, MAX_REASON) },
    rejected: rejected.filter((r) => !(r.engine === unwarmed.model.engine && r.stage === 'warmup')),
  };
}

function fromJson(label: string, model: LoadedModel, values: Record<string, TensorValue>): TensorMap {
  const inputs: TensorMap = {};
  for (const [name, value] of Object.entries(values)) inputs[name] = tensorFromJson(name, value);
  assertInputs(model.signature, inputs, label);
  return inputs;
}

async function check(model: LoadedModel, request: AdmissionRequest): Promise<Verdict> {
  const { reference, samples } = request;
  const fail = (stage: EngineRejection['stage'], err: unknown): Verdict => ({
    rejection: { engine: model.engine, stage, reason: reasonOf(err) },
  });
  if (!reference && samples) {
    let inputs: TensorMap;
    try {
      inputs = fromJson(`sample inputs of ${request.label}`, model, samples);
    } catch (err) {
      return fail('warmup', err);
    }
    try {
      await model.run(inputs);
    } catch (err) {
      return fail('warmup', err);
    }
    return { ok: { source: 'sample', dims: dimsOf(inputs) } };
  }
  if (!reference) {
    const errors: string[] = [];
    for (const set of metadataWarmups(model.signature.inputs)) {
      try {
        await model.run(set.inputs);
        return { ok: { source: 'metadata', label: set.label, dims: dimsOf(set.inputs) } };
      } catch (err) {
        errors.push(`${set.label}: ${brief(reasonOf(err))}`);
      }
    }
    return { ...fail('warmup', errors.join('; ')), unwarmable: true };
  }
  let inputs: TensorMap;
  try {
    inputs = fromJson(`reference of ${request.label}`, model, reference.inputs);
  } catch (err) {
    return fail('reference', err);
  }
  let outputs: TensorMap;
  try {
    outputs = await model.run(inputs);
  } catch (err) {
    return fail('warmup', err);
  }
  let mismatch: ReturnType<typeof compareWithReference>;
  try {
    mismatch = compareWithReference(outputs, reference.outputs, reference.tolerance);
  } catch (err) {
    return fail('reference', err);
  }
  if (!mismatch) return { ok: { source: 'reference', dims: dimsOf(inputs) } };
  return {
    rejection: { engine: model.engine, stage: 'reference', reason: describeMismatch(mismatch), mismatch },
  };
}
