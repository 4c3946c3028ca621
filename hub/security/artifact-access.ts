import type { DesiredState } from '../../shared/index.js';

/**
 * Whether `desired` references the artifact `sha256`: a variant of a model's version or of
 * its shadow, a bundle of the desired agent release, or the global weights of the federated
 * round the device is selected in. A device may download only those (the admin may download
 * any), so one device's credentials do not open another device's pinned models, nor the
 * weights of a round it is not in.
 */
export function desiredReferencesArtifact(desired: DesiredState | undefined, sha256: string): boolean {
  if (desired?.federated?.task.weightsArtifact?.sha256 === sha256) return true;
  for (const model of desired?.models ?? []) {
    const manifests = [...model.manifests, ...(model.shadow?.manifests ?? [])];
    if (manifests.some((m) => m.manifest.sha256 === sha256)) return true;
  }
  return desired?.agent?.bundles.some((b) => b.manifest.sha256 === sha256) === true;
}
