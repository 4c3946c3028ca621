import type { FirmwareProfile, HostFacts, ProfileMatch } from '../../shared/index.js';

/**
 * True when the host shows evidence of a CUDA device: `/dev/nvidia*` nodes or a GPU listed by
 * `nvidia-smi`. A CUDA library on disk alone is not evidence (toolkits and containers ship
 * libcudart on machines with no GPU).
 */
export function hasCuda(facts: HostFacts): boolean {
  return facts.cuda.devNvidia || facts.cuda.nvidiaSmi;
}

/** Why `match` fits `facts` (one clause per constraint), or undefined when it does not. */
export function matchReason(match: ProfileMatch, facts: HostFacts): string | undefined {
  const why: string[] = [`runtime ${facts.runtime}`];
  if (match.runtime !== facts.runtime) return undefined;
  if (match.arch) {
    if (!match.arch.includes(facts.arch)) return undefined;
    why.push(`arch ${facts.arch}`);
  }
  if (match.deviceTreeModel) {
    const model = facts.deviceTreeModel?.toLowerCase() ?? '';
    const hit = match.deviceTreeModel.find((s) => model.includes(s.toLowerCase()));
    if (!hit) return undefined;
    why.push(`device-tree model "${facts.deviceTreeModel}" contains "${hit}"`);
  }
  if (match.cuda !== undefined) {
    if (hasCuda(facts) !== match.cuda) return undefined;
    const evidence = Object.entries(facts.cuda)
      .filter(([k, v]) => v && k !== 'libcudart')
      .map(([k]) => k);
    why.push(match.cuda ? `CUDA present (${evidence.join(', ')})` : 'no CUDA');
  }
  return why.join(', ');
}

/**
 * Picks the profile for a host: among profiles whose `match` fits, the one
 * with the highest priority (then the first by name). Undefined when none fits.
 */
export function detectProfile(
  facts: HostFacts,
  profiles: readonly FirmwareProfile[],
): { profile: FirmwareProfile; reason: string } | undefined {
  const fits = profiles
    .map((profile) => ({ profile, reason: matchReason(profile.match, facts) }))
    .filter((c): c is { profile: FirmwareProfile; reason: string } => c.reason !== undefined)
    .sort((a, b) => b.profile.priority - a.profile.priority || a.profile.name.localeCompare(b.profile.name));
  return fits[0];
}
