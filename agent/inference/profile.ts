import type { Logger } from 'pino';
import { detectProfile, loadProfiles, probeHostFacts } from '../../inference/index.js';
import { type FirmwareProfile, type HostFacts, OutpostError } from '../../shared/index.js';

/** The profile in force and why. */
export interface ResolvedProfile {
  profile: FirmwareProfile;
  source: 'config' | 'detected';
  reason: string;
}

/** Inputs of {@link resolveProfile}. */
export interface ProfileOptions {
  /** A profile name from config/flag (`inference.profile`); detection when absent. */
  name?: string;
  /** Directory of profiles; the repository's `firmware-profiles/` when absent. */
  dir?: string;
  /** Host facts; probed from this host when absent (tests pass fixtures). */
  facts?: HostFacts;
  log: Logger;
}

/**
 * Picks the firmware profile: the configured one (an unknown name is a
 * config error listing the known ones), else the one detected from the host facts.
 */
export function resolveProfile(options: ProfileOptions): ResolvedProfile {
  const profiles = loadProfiles(options.dir);
  if (options.name !== undefined) {
    const profile = profiles.find((p) => p.name === options.name);
    if (!profile) {
      throw new OutpostError(
        'AGENT_CONFIG_INVALID',
        `inference.profile: no firmware profile "${options.name}" (known: ${profiles.map((p) => p.name).join(', ')})`,
      );
    }
    return { profile, source: 'config', reason: 'set by inference.profile' };
  }
  const facts = options.facts ?? probeHostFacts();
  const found = detectProfile(facts, profiles);
  if (!found) {
    throw new OutpostError(
      'AGENT_CONFIG_INVALID',
      `no firmware profile matches this host (${JSON.stringify(facts)}); set inference.profile`,
    );
  }
  options.log.info({ profile: found.profile.name, reason: found.reason, facts }, 'firmware profile detected');
  return { profile: found.profile, source: 'detected', reason: found.reason };
}
