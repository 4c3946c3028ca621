import { admitModel, type LoadedModel } from '../../inference/index.js';
import { type EngineRejection, type Manifest, OutpostError, type WarmupRecord } from '../../shared/index.js';
import type { Precision } from './model-store.js';
import type { InferenceRuntimeOptions } from './runtime.js';

/** An installed version after admission: its engine's session, or why none was admitted. */
export interface AdmittedVersion {
  /** The admitted variant's manifest; the first variant tried when none was admitted. */
  manifest: Manifest;
  model: LoadedModel | undefined;
  warmup?: WarmupRecord;
  /** Every engine that refused, tagged with its variant's precision when there are several. */
  rejected: EngineRejection[];
  /** Empty when a variant was admitted. */
  error: string;
}

/**
 * Admits an installed version without touching the active pointer: its variants in the
 * profile's precision order (a `preferred` one first), each over the profile's engines.
 * Throws `INFER_MODEL_NOT_FOUND`; returns `model: undefined` and the error when none was admitted.
 * Used by the runtime (`InferenceRuntime`) for activations and shadow loads.
 */
export async function admitVersion(
  o: InferenceRuntimeOptions,
  name: string,
  version: string,
  preferred?: Precision,
): Promise<AdmittedVersion> {
  const { profile } = o.profile;
  const rank = (p: Precision) => (p === preferred ? -1 : profile.precision.indexOf(p) >>> 0);
  const variants = o.models.variants(name, version).sort((a, b) => rank(a.precision) - rank(b.precision));
  const first = variants[0];
  if (first === undefined)
    throw new OutpostError('INFER_MODEL_NOT_FOUND', `model ${name}@${version} is not installed`);
  const rejected: EngineRejection[] = [];
  for (const variant of variants) {
    const { manifest } = variant;
    const source = await o.files.get(manifest.sha256, manifest.format);
    const admission = await admitModel({
      label: `${name}@${version}/${manifest.precision}`,
      source,
      reference: manifest.reference,
      ...(manifest.samples ? { samples: manifest.samples } : {}),
      unwarmed: o.unwarmed ?? 'admit',
      engines: profile.engines,
      settingsFor: (engine) => ({
        intraOpThreads: o.intraOpThreads ?? profile.threads.intraOp,
        interOpThreads: profile.threads.interOp,
        options: profile.engineOptions[engine] ?? {},
      }),
      log: o.log,
      ...(o.registry ? { registry: o.registry } : {}),
    });
    const tagged =
      variants.length > 1
        ? admission.rejected.map((r) => ({ ...r, precision: manifest.precision }))
        : admission.rejected;
    rejected.push(...tagged);
    if (admission.model) {
      const { model, warmup } = admission;
      return { manifest, model, rejected, error: '', ...(warmup ? { warmup } : {}) };
    }
  }
  const error = `no engine was admitted for ${name}@${version} (tried ${profile.engines.join(', ')})`;
  return { manifest: first.manifest, model: undefined, rejected, error };
}
