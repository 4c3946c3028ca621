import type { Logger } from 'pino';
import type { ModelFiles } from '../inference/model-files.js';
import type { ModelStore } from '../inference/model-store.js';

/**
 * Removes old versions of a model after an activation (a device's models quota must
 * not fill up with every version ever delivered). Kept: the active, the warm previous and the
 * shadow version; without a warm previous (after a restart), the most recently installed other
 * version, the rollback target. Returns the versions removed.
 */
export async function collectOldVersions(
  name: string,
  versions: { active: string; previous?: string | undefined; shadow?: string | undefined },
  deps: { models: ModelStore; files: ModelFiles; log: Logger },
): Promise<string[]> {
  const keep = new Set([versions.active, versions.previous, versions.shadow].filter((v) => v !== undefined));
  const byVersion = new Map<string, number>();
  for (const m of deps.models.list()) {
    if (m.name !== name || keep.has(m.version)) continue;
    byVersion.set(m.version, Math.max(byVersion.get(m.version) ?? 0, m.installedAt));
  }
  const others = [...byVersion.entries()].sort((a, b) => b[1] - a[1]).map(([v]) => v);
  const doomed = versions.previous !== undefined ? others : others.slice(1);
  for (const version of doomed) {
    for (const sha of deps.models.remove(name, version)) await deps.files.remove(sha);
    deps.log.info({ model: name, version }, 'old model version removed from the device');
  }
  return doomed;
}
