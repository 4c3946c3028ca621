import { readFile } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import type { Logger } from 'pino';
import { artifactSource } from '../../inference/index.js';
import { type Manifest, ManifestSchema, OutpostError, PRECISIONS, signManifest } from '../../shared/index.js';
import type { ModelVersionRecord } from '../store/registry-types.js';
import type { HubStore } from '../store/types.js';
import type { ArtifactStore, StoredArtifact } from './artifact-store.js';
import { checkOnHub } from './reference.js';
import {
  type HubSigningKey,
  type PublicKeyInfo,
  retiredPublicKeys,
  rotateSigningKey,
} from './signing-key.js';

/** One variant to register: its artifact already in the {@link ArtifactStore}, or bytes. */
export interface RegisterVersionInput {
  name: string;
  version: string;
  /** Default `fp32`. */
  precision?: Manifest['precision'] | undefined;
  /** Artifact bytes (ONNX, or a TF.js bundle: `packTfjsBundle`); stored content-addressed. */
  bytes?: Uint8Array;
  /** An artifact already stored (what a streamed push does). */
  stored?: StoredArtifact;
  /** Parent version, federated round, free-form source (lineage). */
  lineage?: Manifest['lineage'];
  /** Sample inputs the hub warms up and runs its reference on (`models push --sample FILE`). */
  samples?: Manifest['samples'];
}

/**
 * Says why a version must not be deleted (e.g. a rollout uses it), or returns nothing.
 * The rollouts work registers one with {@link Registry.addReferenceCheck}.
 */
export type ReferenceCheck = (name: string, version: string) => Promise<string | undefined>;

/** The hub's model registry. */
export interface Registry {
  /** The signing key in force (its public key is served at `GET /v1/keys`). */
  readonly signingKey: HubSigningKey;
  /** The current public key first, then the retired ones (agents may trust all of them). */
  publicKeys(): Promise<PublicKeyInfo[]>;
  /** Rotates the signing key; later registrations are signed with the new one. */
  rotateKey(): Promise<HubSigningKey>;
  readonly artifacts: ArtifactStore;
  /**
   * Registers one variant of a version: stores the artifact, runs it on the hub's CPU engine
   * for its signature and reference, signs the manifest and records it. Callable directly by
   * hub code (the federated closed loop). Throws `HUB_MODEL_EXISTS`, `INFER_MODEL_INVALID`,
   * `HUB_BAD_REQUEST`.
   */
  registerVersion(input: RegisterVersionInput): Promise<ModelVersionRecord>;
  /** A streamed upload (HTTP push): stored first (size limit, optional sha check), then registered. */
  pushStream(
    body: Readable,
    input: Omit<RegisterVersionInput, 'bytes' | 'stored'> & { expectedSha256?: string | undefined },
  ): Promise<ModelVersionRecord>;
  list(name?: string): Promise<ModelVersionRecord[]>;
  /** Throws `HUB_MODEL_NOT_FOUND`. */
  get(name: string, version: string): Promise<ModelVersionRecord>;
  /**
   * Deletes a version (and its artifacts no other version uses). Refused with
   * `HUB_MODEL_IN_USE` naming who references it: devices' desired states, reference checks.
   */
  delete(name: string, version: string): Promise<void>;
  addReferenceCheck(check: ReferenceCheck): void;
}

/** What {@link createRegistry} needs. */
export interface RegistryDeps {
  store: HubStore;
  artifacts: ArtifactStore;
  signingKey: HubSigningKey;
  /** Largest artifact accepted, bytes. */
  maxArtifactBytes: number;
  /** Largest reference (input + output elements) put in a manifest. */
  referenceMaxElements: number;
  /** The data dir (keys live under `keys/`). */
  dataDir: string;
  /** Devices whose desired state references a version (the desired service's). */
  devicesReferencing(name: string, version: string): Promise<string[]>;
  now: () => number;
  log: Logger;
}

/** Builds the registry over the store, the artifact store and the signing key. */
export function createRegistry(deps: RegistryDeps): Registry {
  const { store, artifacts, log } = deps;
  const checks: ReferenceCheck[] = [];
  let signingKey = deps.signingKey;

  const validateIds = (input: RegisterVersionInput) => {
    const parsed = ManifestSchema.pick({ name: true, version: true, lineage: true }).safeParse({
      name: input.name,
      version: input.version,
      lineage: input.lineage,
    });
    if (!parsed.success) {
      const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
      throw new OutpostError('HUB_BAD_REQUEST', `invalid model version: ${problems.join('; ')}`);
    }
    const precision = input.precision ?? 'fp32';
    if (!PRECISIONS.includes(precision)) {
      throw new OutpostError('HUB_BAD_REQUEST', `variant must be one of ${PRECISIONS.join(', ')}`);
    }
    return precision;
  };

  const registerVersion: Registry['registerVersion'] = async (input) => {
    const precision = validateIds(input);
    const existing = await store.getModelVersion(input.name, input.version);
    if (existing?.variants.some((v) => v.precision === precision)) {
      throw new OutpostError(
        'HUB_MODEL_EXISTS',
        `${input.name}@${input.version} already has a ${precision} variant; push another version or variant`,
      );
    }
    const stored =
      input.stored ??
      (input.bytes !== undefined ? await artifacts.putBytes(input.bytes, deps.maxArtifactBytes) : undefined);
    if (stored === undefined)
      throw new OutpostError('HUB_BAD_REQUEST', 'registerVersion needs bytes or a stored artifact');
    const label = `${input.name}@${input.version}/${precision}`;
    const bytes = await readFile(artifacts.pathOf(stored.sha256));
    const source = artifactSource(bytes);
    const check = await checkOnHub(source, label, {
      maxElements: deps.referenceMaxElements,
      log,
      samples: input.samples,
    });
    const lineage = input.lineage ?? existing?.lineage;
    const manifest: Manifest = {
      schema: 'outpost.manifest/v1',
      name: input.name,
      version: input.version,
      format: source.format,
      precision,
      sha256: stored.sha256,
      size: stored.size,
      inputs: check.signature.inputs,
      outputs: check.signature.outputs,
      ...(check.reference ? { reference: check.reference } : {}),
      ...(check.samples ? { samples: check.samples } : {}),
      ...(lineage && Object.keys(lineage).length > 0 ? { lineage } : {}),
      createdAt: deps.now(),
    };
    const signed = signManifest(manifest, signingKey.keys);
    const record = await store.putModelVariant(
      input.name,
      input.version,
      manifest.lineage,
      { precision, format: source.format, sha256: stored.sha256, size: stored.size, signed },
      manifest.createdAt,
    );
    log.info(
      { model: input.name, version: input.version, precision, sha256: stored.sha256, size: stored.size },
      'model version registered',
    );
    return record;
  };

  const get: Registry['get'] = async (name, version) => {
    const record = await store.getModelVersion(name, version);
    if (record === undefined)
      throw new OutpostError('HUB_MODEL_NOT_FOUND', `model ${name}@${version} is not registered`);
    return record;
  };

  return {
    get signingKey() {
      return signingKey;
    },
    publicKeys: async () => [
      { keyId: signingKey.keyId, publicKeyPem: signingKey.keys.publicKeyPem },
      ...(await retiredPublicKeys(deps.dataDir)).filter((k) => k.keyId !== signingKey.keyId),
    ],
    rotateKey: async () => {
      signingKey = await rotateSigningKey(deps.dataDir, log);
      return signingKey;
    },
    artifacts,
    registerVersion,
    pushStream: async (body, input) => {
      validateIds(input);
      const stored = await artifacts.put(body, {
        maxBytes: deps.maxArtifactBytes,
        ...(input.expectedSha256 !== undefined ? { expectedSha256: input.expectedSha256 } : {}),
      });
      try {
        return await registerVersion({ ...input, stored });
      } catch (err) {
        if (!(await store.artifactInUse(stored.sha256))) await artifacts.delete(stored.sha256);
        throw err;
      }
    },
    list: (name) => store.listModelVersions(name),
    get,
    delete: async (name, version) => {
      const record = await get(name, version);
      const reasons: string[] = [];
      const devices = await deps.devicesReferencing(name, version);
      if (devices.length > 0) {
        const shown = devices.slice(0, 5).join(', ');
        reasons.push(
          `desired state of ${devices.length} device(s) (${shown}${devices.length > 5 ? ', …' : ''})`,
        );
      }
      for (const check of checks) {
        const reason = await check(name, version);
        if (reason !== undefined) reasons.push(reason);
      }
      if (reasons.length > 0) {
        throw new OutpostError(
          'HUB_MODEL_IN_USE',
          `${name}@${version} cannot be deleted: referenced by ${reasons.join('; ')}`,
          { details: { devices, reasons } },
        );
      }
      await store.deleteModelVersion(name, version);
      for (const variant of record.variants) {
        if (!(await store.artifactInUse(variant.sha256))) await artifacts.delete(variant.sha256);
      }
      log.info({ model: name, version }, 'model version deleted');
    },
    addReferenceCheck: (check) => {
      checks.push(check);
    },
  };
}
