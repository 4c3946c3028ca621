import { z } from 'zod';

/**
 * Protocol version, major.minor. The major is the `v` every payload carries (and the `v1` of
 * the topics); the minor travels as `pv` ("1.1"). A message without `pv` comes from the
 * previous release, which had none: it is read as minor 0. Minors of one major only add:
 * optional fields and enum values a receiver may keep and count (docs/compatibility.md).
 */
export const PROTOCOL_MAJOR = 1;
export const PROTOCOL_MINOR = 1;
/** This build's version as it travels in `pv`. */
export const PROTOCOL = `${PROTOCOL_MAJOR}.${PROTOCOL_MINOR}`;

/** `pv` on the wire: `MAJOR.MINOR`. */
export const PvSchema = z.string().regex(/^\d{1,4}\.\d{1,4}$/, 'pv must be MAJOR.MINOR, e.g. "1.1"');

/** A peer's protocol version. */
export interface PeerVersion {
  major: number;
  minor: number;
}

/** Reads `v` and optional `pv` of a payload; undefined when neither names a version. */
export function peerVersion(raw: unknown): PeerVersion | undefined {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return undefined;
  const { v, pv } = raw as { v?: unknown; pv?: unknown };
  if (typeof pv === 'string' && PvSchema.safeParse(pv).success) {
    const [major, minor] = pv.split('.').map(Number) as [number, number];
    return { major, minor };
  }
  if (typeof v === 'number' && Number.isInteger(v)) return { major: v, minor: 0 };
  return undefined;
}

/** Formats a version as it travels. */
export function formatVersion(version: PeerVersion): string {
  return `${version.major}.${version.minor}`;
}

/**
 * Why a payload of `version` cannot be processed here, or undefined when it is served: the
 * same major, and a minor from the previous to the next one (a hub serves agents one minor
 * behind and one ahead; what a newer minor adds is kept and counted, never a refusal).
 */
export function unservedReason(version: PeerVersion): string | undefined {
  const lowest = Math.max(0, PROTOCOL_MINOR - 1);
  const highest = PROTOCOL_MINOR + 1;
  if (version.major === PROTOCOL_MAJOR && version.minor >= lowest && version.minor <= highest)
    return undefined;
  return `protocol ${formatVersion(version)} is not served: this side speaks ${PROTOCOL} and serves ${PROTOCOL_MAJOR}.${lowest} to ${PROTOCOL_MAJOR}.${highest}`;
}

/** True when a peer of `version` reads `pv` (anything newer than the previous release). */
export function readsPv(version: PeerVersion | undefined): boolean {
  return version !== undefined && (version.major > 1 || version.minor >= 1);
}
