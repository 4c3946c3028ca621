import {
  DesiredAgentSchema,
  DesiredModelSchema,
  type DesiredState,
  DesiredStateSchema,
  formatIssues,
  OutpostError,
} from '../../shared/index.js';

/** A desired document whose invalid model entries were taken out, and why each was. */
export interface SplitDesired {
  doc: DesiredState;
  refused: Array<{ name: string; version: string; error: OutpostError }>;
  /** The `agent` section, when it was invalid and taken out. */
  agentRefused?: { version: string; error: OutpostError };
}

/**
 * When a desired document fails its
 * schema only because of some `models` entries (e.g. an unsigned manifest), those entries
 * are refused one by one and the rest of the document applies. Returns undefined when the
 * document is invalid for another reason (then it is rejected as a whole, as before).
 */
export function splitDesired(payload: Buffer): SplitDesired | undefined {
  let value: unknown;
  try {
    value = JSON.parse(payload.toString('utf8'));
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const rawAgent = (value as { agent?: unknown }).agent;
  let agentRefused: SplitDesired['agentRefused'];
  if (rawAgent !== undefined) {
    const parsed = DesiredAgentSchema.safeParse(rawAgent);
    if (!parsed.success) {
      const version = (rawAgent as { version?: unknown } | null)?.version;
      agentRefused = {
        version: typeof version === 'string' ? version.slice(0, 64) : '?',
        error: new OutpostError(
          parsed.error.issues.some((i) => i.path.includes('signature'))
            ? 'PROTO_BAD_SIGNATURE'
            : 'PROTO_INVALID_PAYLOAD',
          formatIssues(parsed.error).join('; ').slice(0, 1024),
        ),
      };
      const { agent: _invalid, ...rest } = value as Record<string, unknown>;
      value = rest;
    }
  }
  const raw = (value as { models?: unknown }).models;
  if (!Array.isArray(raw)) {
    if (agentRefused === undefined) return undefined;
    const doc = DesiredStateSchema.safeParse(value);
    return doc.success ? { doc: doc.data, refused: [], agentRefused } : undefined;
  }
  const refused: SplitDesired['refused'] = [];
  const valid: unknown[] = [];
  for (const entry of raw) {
    const parsed = DesiredModelSchema.safeParse(entry);
    if (parsed.success) {
      valid.push(parsed.data);
      continue;
    }
    const e = (typeof entry === 'object' && entry !== null ? entry : {}) as {
      name?: unknown;
      version?: unknown;
    };
    const problems = formatIssues(parsed.error);
    const unsigned = parsed.error.issues.some((i) => i.path.includes('signature'));
    refused.push({
      name: typeof e.name === 'string' ? e.name.slice(0, 64) : '?',
      version: typeof e.version === 'string' ? e.version.slice(0, 64) : '?',
      error: new OutpostError(
        unsigned ? 'PROTO_BAD_SIGNATURE' : 'PROTO_INVALID_PAYLOAD',
        `${unsigned ? 'unsigned or malformed signature: ' : ''}${problems.join('; ')}`.slice(0, 1024),
      ),
    });
  }
  if (refused.length === 0 && agentRefused === undefined) return undefined;
  const doc = DesiredStateSchema.safeParse({ ...(value as object), models: valid });
  return doc.success ? { doc: doc.data, refused, ...(agentRefused ? { agentRefused } : {}) } : undefined;
}
