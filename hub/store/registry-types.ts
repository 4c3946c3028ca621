import type { DesiredState, DeviceId, Manifest, SignedManifest } from '../../shared/index.js';

/** One registered variant of a model version: its artifact and signed manifest. */
export interface ModelVariantRecord {
  precision: Manifest['precision'];
  format: Manifest['format'];
  /** The artifact's SHA-256 (content address under `{dataDir}/artifacts`). */
  sha256: string;
  /** Artifact size, bytes. */
  size: number;
  signed: SignedManifest;
}

/** One registered model version with its variants and lineage. */
export interface ModelVersionRecord {
  name: string;
  version: string;
  /** Hub wall clock at first registration, ms. */
  createdAt: number;
  lineage: Manifest['lineage'];
  variants: ModelVariantRecord[];
}

/** The body of a desired document without its envelope (`v`, `rev`, `at`): its sections. */
export type DesiredBody = Omit<DesiredState, 'v' | 'rev' | 'at'>;

/**
 * Computes the next sections of one device's desired document from the current ones
 * (`undefined` before the first). Pure and synchronous: it runs inside the store's transaction.
 * Returning `null` means "no change": the revision is not bumped.
 */
export type DesiredMutation = (current: DesiredBody | undefined, deviceId: DeviceId) => DesiredBody | null;

/**
 * Registry and desired-state composition storage, part of every hub store backend
 * (`registry.ts`, `desired.ts`). `HubStore` extends it.
 */
export interface RegistryStore {
  /**
   * Applies `mutate` to each device's desired document in ONE transaction: for each device
   * whose mutation returns a body, stores `{v, rev: previous + 1 (1 for the first), at, ...body}`.
   * Returns the new documents (devices left unchanged are absent). Throws
   * `HUB_DEVICE_NOT_FOUND` (and changes nothing) when a device is unknown.
   */
  updateDesired(
    deviceIds: readonly DeviceId[],
    mutate: DesiredMutation,
    atMs: number,
  ): Promise<Map<DeviceId, DesiredState>>;
  /**
   * Adds one variant to a model version (creating the version, with `lineage`, on its first
   * variant). Throws `HUB_MODEL_EXISTS` when that precision is already registered.
   */
  putModelVariant(
    name: string,
    version: string,
    lineage: Manifest['lineage'],
    variant: ModelVariantRecord,
    atMs: number,
  ): Promise<ModelVersionRecord>;
  getModelVersion(name: string, version: string): Promise<ModelVersionRecord | undefined>;
  /** Every version, by name then creation time; of one model when `name` is given. */
  listModelVersions(name?: string): Promise<ModelVersionRecord[]>;
  /** Deletes a version and its variants; false when it did not exist. Reference checks are the caller's. */
  deleteModelVersion(name: string, version: string): Promise<boolean>;
  /** Whether any registered variant (of any version) still uses this artifact. */
  artifactInUse(sha256: string): Promise<boolean>;
}
