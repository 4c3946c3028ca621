import type { z } from 'zod';
import { OutpostError } from './errors.js';
import { parseTolerant } from './messages/tolerance.js';
import { type PeerVersion, peerVersion, unservedReason } from './messages/version.js';

/** Default ceiling on one MQTT payload, bytes (well under aedes' and Mosquitto's packet limits). */
export const DEFAULT_MAX_PAYLOAD_BYTES = 256 * 1024;

/**
 * A decoded payload: `tolerated` lists what was kept-and-counted rather than understood
 * (unknown fields, lanes, engines); `version` is the sender's protocol version when it named
 * it with `pv` (a payload without `pv` is read as the previous minor, but says nothing of what
 * its sender reads: a newer sender omits `pv` until it knows the receiver reads it). A failure says why; `unserved` marks a refusal because of the sender's version.
 */
export type Decoded<T> =
  | { ok: true; value: T; tolerated: string[]; version?: PeerVersion }
  | { ok: false; reason: string; unserved?: true; version?: PeerVersion };

/** Formats zod issues as `path: problem` lines, the one style used for payloads and config. */
export function formatIssues(error: z.ZodError): string[] {
  return error.issues.map(
    (issue) => `${issue.path.length ? issue.path.join('.') : '(root)'}: ${issue.message}`,
  );
}

/**
 * Validates `value` with `schema` and serialises it as UTF-8 JSON. Throws
 * `PROTO_INVALID_PAYLOAD` naming every offending field: nothing invalid is ever sent.
 */
export function encodeMessage<S extends z.ZodType>(schema: S, value: z.input<S>): Buffer {
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    throw new OutpostError('PROTO_INVALID_PAYLOAD', formatIssues(parsed.error).join('; '));
  }
  return Buffer.from(JSON.stringify(parsed.data), 'utf8');
}

/**
 * Parses and validates an inbound payload. Never throws: a bad payload yields a reason
 * that names what is wrong, for the caller to count, log once and drop. A payload whose
 * protocol version (`v`, `pv`) is not served is refused before its schema is applied;
 * otherwise it is read tolerantly (shared/messages/tolerance.ts).
 */
export function decodeMessage<S extends z.ZodType>(
  schema: S,
  payload: Buffer | Uint8Array | string,
  maxBytes = DEFAULT_MAX_PAYLOAD_BYTES,
): Decoded<z.output<S>> {
  const size = typeof payload === 'string' ? Buffer.byteLength(payload) : payload.byteLength;
  if (size > maxBytes)
    return { ok: false, reason: `payload of ${size} bytes exceeds the limit of ${maxBytes}` };
  let json: unknown;
  try {
    const text = typeof payload === 'string' ? payload : Buffer.from(payload).toString('utf8');
    json = JSON.parse(text);
  } catch (err) {
    return { ok: false, reason: `payload is not JSON: ${(err as Error).message}` };
  }
  const version = peerVersion(json);
  const unserved = version && unservedReason(version);
  if (version && unserved) return { ok: false, reason: unserved, unserved: true, version };
  // Only a `pv` tells the minor: a sender omits it to a peer it does not know to read it.
  const named = version && typeof (json as { pv?: unknown }).pv === 'string' ? { version } : {};
  const parsed = parseTolerant(schema, json);
  if (!parsed.success) return { ok: false, reason: formatIssues(parsed.error).join('; '), ...named };
  return { ok: true, value: parsed.data, tolerated: parsed.tolerated, ...named };
}
