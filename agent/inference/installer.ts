import type { Logger } from 'pino';
import { z } from 'zod';
import {
  assertInputs,
  digestModelSource,
  ENGINES,
  type ModelSignature,
  type ModelSource,
  readModelSource,
  readOnnxSignature,
  type TensorMap,
  tensorFromJson,
} from '../../inference/index.js';
import {
  formatIssues,
  type Manifest,
  ManifestSchema,
  OutpostError,
  PRECISIONS,
  ReferenceSchema,
  SemverSchema,
  Sha256Schema,
  type TensorSpec,
  type TensorValue,
  TensorValueSchema,
} from '../../shared/index.js';
import type { ModelFiles } from './model-files.js';
import type { ModelStore } from './model-store.js';

/** A model installed from a file on the device (hub distribution is a later issue). */
export const InstallRequestSchema = z.strictObject({
  /** Path of an `.onnx` file or of a TF.js `model.json` (its shards beside it). */
  file: z.string().min(1),
  /** Required unless `manifest` gives it. */
  name: ManifestSchema.shape.name.optional(),
  version: SemverSchema.optional(),
  /** The variant; `fp32` when neither this nor the manifest says. */
  precision: z.enum(PRECISIONS).optional(),
  /** Expected SHA-256 of the artifact; the install fails when the file differs. */
  sha256: Sha256Schema.optional(),
  /** A full manifest (`outpost.manifest/v1`); checked against the file and the model. */
  manifest: z.unknown().optional(),
  /** A reference run engines must reproduce to be admitted. */
  reference: ReferenceSchema.optional(),
  /**
   * Sample inputs to warm engines up on when there is no reference, as `models infer
   * --inputs` takes them: `{NAME: {dtype, dims, data}, ...}`.
   */
  samples: z.record(z.string(), TensorValueSchema).optional(),
  /** Activate right away (default true). */
  activate: z.boolean().default(true),
});
export type InstallRequest = z.input<typeof InstallRequestSchema>;

const invalid = (message: string, details?: unknown) =>
  new OutpostError('INFER_MODEL_INVALID', message, details === undefined ? undefined : { details });

/** A model's own signature: from the ONNX graph, or from the TF.js model loaded on `tfjs:cpu`. */
export async function signatureOf(source: ModelSource, log: Logger): Promise<ModelSignature> {
  if (source.format === 'onnx') return readOnnxSignature(source.bytes);
  let model: Awaited<ReturnType<(typeof ENGINES)['tfjs:cpu']['load']>>;
  try {
    model = await ENGINES['tfjs:cpu'].load(source, {
      intraOpThreads: 1,
      interOpThreads: 1,
      options: {},
      log,
    });
  } catch (err) {
    throw invalid(`TF.js model cannot be read: ${(err as Error).message}`);
  }
  await model.close();
  return model.signature;
}

function specProblems(role: string, declared: TensorSpec[], actual: TensorSpec[]): string[] {
  const problems: string[] = [];
  for (const spec of declared) {
    const found = actual.find((a) => a.name === spec.name);
    if (!found)
      problems.push(
        `manifest ${role} "${spec.name}" is not in the model (it has ${actual.map((a) => `"${a.name}"`).join(', ')})`,
      );
    else if (found.dtype !== spec.dtype)
      problems.push(`manifest ${role} "${spec.name}": manifest says ${spec.dtype}, model has ${found.dtype}`);
  }
  return problems;
}

function checkManifest(
  raw: unknown,
  req: z.output<typeof InstallRequestSchema>,
  digest: { sha256: string; size: number },
  format: Manifest['format'],
  sig: ModelSignature,
): Manifest {
  const parsed = ManifestSchema.safeParse(raw);
  if (!parsed.success) {
    const problems = formatIssues(parsed.error).map((p) => `manifest.${p}`);
    throw invalid(problems.join('; '), problems);
  }
  const m = parsed.data;
  const problems: string[] = [];
  if (req.name !== undefined && req.name !== m.name)
    problems.push(`name: request says ${req.name}, manifest ${m.name}`);
  if (req.version !== undefined && req.version !== m.version)
    problems.push(`version: request says ${req.version}, manifest ${m.version}`);
  if (req.precision !== undefined && req.precision !== m.precision)
    problems.push(`precision: request says ${req.precision}, manifest ${m.precision}`);
  if (m.sha256 !== digest.sha256)
    problems.push(`sha256: manifest says ${m.sha256}, the file has ${digest.sha256}`);
  if (m.size !== digest.size)
    problems.push(`size: manifest says ${m.size} bytes, the file has ${digest.size}`);
  if (m.format !== format) problems.push(`format: manifest says ${m.format}, the file is ${format}`);
  problems.push(
    ...specProblems('input', m.inputs, sig.inputs),
    ...specProblems('output', m.outputs, sig.outputs),
  );
  if (problems.length > 0)
    throw invalid(`manifest does not describe ${req.file}: ${problems.join('; ')}`, problems);
  return {
    ...m,
    ...(req.reference ? { reference: req.reference } : {}),
    ...(req.samples ? { samples: req.samples } : {}),
  };
}

/** Sample inputs must fit the model's signature: a bad one is refused naming the tensor. */
function checkSample(sample: Record<string, TensorValue>, sig: ModelSignature): void {
  const inputs: TensorMap = {};
  for (const [name, value] of Object.entries(sample)) inputs[name] = tensorFromJson(name, value);
  assertInputs(sig, inputs, 'sample inputs');
}

/** What {@link installModel} needs. */
export interface InstallDeps {
  models: ModelStore;
  files: ModelFiles;
  /** The profile's quota on installed artifacts, bytes. */
  modelsMaxBytes: number;
  log: Logger;
}

/**
 * Verifies and stores a model from a local file: reads it, hashes it (a given `sha256` or
 * manifest must match), reads its signature from the model itself, checks the storage
 * quota, writes it content-addressed, and records the variant. Returns its manifest.
 * Throws `AGENT_BAD_REQUEST`, `INFER_MODEL_INVALID` or `INFER_STORAGE_FULL`.
 */
export async function installModel(
  input: unknown,
  deps: InstallDeps,
): Promise<{ manifest: Manifest; activate: boolean }> {
  const parsed = InstallRequestSchema.safeParse(input);
  if (!parsed.success) {
    const problems = formatIssues(parsed.error);
    throw new OutpostError('AGENT_BAD_REQUEST', problems.join('; '), { details: problems });
  }
  const req = parsed.data;
  if (req.manifest === undefined && (req.name === undefined || req.version === undefined)) {
    throw new OutpostError('AGENT_BAD_REQUEST', 'name and version are required without a manifest');
  }
  const source = await readModelSource(req.file);
  const digest = digestModelSource(source);
  if (req.sha256 !== undefined && req.sha256 !== digest.sha256) {
    throw invalid(`sha256 mismatch for ${req.file}: expected ${req.sha256}, the file has ${digest.sha256}`);
  }
  const sig = await signatureOf(source, deps.log);
  if (req.samples) checkSample(req.samples, sig);
  const manifest: Manifest =
    req.manifest !== undefined
      ? checkManifest(req.manifest, req, digest, source.format, sig)
      : ManifestSchema.parse({
          schema: 'outpost.manifest/v1',
          name: req.name,
          version: req.version,
          format: source.format,
          precision: req.precision ?? 'fp32',
          ...digest,
          inputs: sig.inputs,
          outputs: sig.outputs,
          ...(req.reference ? { reference: req.reference } : {}),
          ...(req.samples ? { samples: req.samples } : {}),
          createdAt: Date.now(),
        });
  const known = deps.models.list().some((m) => m.manifest.sha256 === manifest.sha256);
  const used = deps.models.totalBytes();
  if (!known && used + manifest.size > deps.modelsMaxBytes) {
    throw new OutpostError(
      'INFER_STORAGE_FULL',
      `installing ${manifest.size} bytes would exceed the models quota: ${used} of ${deps.modelsMaxBytes} bytes used`,
    );
  }
  await deps.files.put(manifest.sha256, source);
  deps.models.add(manifest, Date.now());
  deps.log.info(
    {
      model: manifest.name,
      version: manifest.version,
      precision: manifest.precision,
      sha256: manifest.sha256,
    },
    'model installed',
  );
  return { manifest, activate: req.activate };
}
