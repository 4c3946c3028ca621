import type { DesiredState } from '../../shared/index.js';

/**
 * Whether `desired` references the artifact `sha256`: a variant of a model's version or of
 * its shadow, or a bundle of the desired agent release. A device may download only those (the admin may download any), so one device's
 * credentials do not open another device's pinned models.
 */
export function desiredReferencesArtifact(desired: DesiredState | undefined, sha256: string): boolean {
  for (const model of desired?.models ?? []) {
    const manifests = [...model.manifests, ...(model.shadow?.manifests ?? [])];
    if (manifests.some((m) => m.manifest.sha256 === sha256)) return true;
  }
  return desired?.agent?.bundles.some((b) => b.manifest.sha256 === sha256) === true;
}
