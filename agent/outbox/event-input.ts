import { z } from 'zod';
import { formatIssues, LabelSchema, type Lane, LaneSchema, OutpostError } from '../../shared/index.js';

/** Lane of an event enqueued without one: application events are telemetry by default. */
export const DEFAULT_LANE: Lane = 'telemetry';

/** An event as an application hands it to the agent (`POST /v1/events`, `agent.enqueue`). */
export const EventInputSchema = z.strictObject({
  type: LabelSchema,
  /** Any JSON value; required (use `null` for none). */
  body: z.unknown(),
  lane: LaneSchema.optional(),
});
export type EventInput = z.input<typeof EventInputSchema>;

/** A validated event, its body already serialised. */
export interface ParsedEvent {
  type: string;
  lane: Lane;
  bodyJson: string;
}

/**
 * Validates an event. Throws `AGENT_BAD_REQUEST` naming every `path: problem`, including a
 * body that is not JSON (a BigInt, a cycle); `details` holds the list.
 */
export function parseEventInput(value: unknown): ParsedEvent {
  const parsed = EventInputSchema.safeParse(value);
  const problems = parsed.success ? [] : formatIssues(parsed.error);
  let bodyJson: string | undefined;
  if (typeof value === 'object' && value !== null && 'body' in value) {
    try {
      bodyJson = JSON.stringify((value as { body: unknown }).body) ?? 'null';
    } catch (err) {
      problems.push(`body: not serialisable as JSON (${(err as Error).message})`);
    }
  }
  if (!parsed.success || bodyJson === undefined || problems.length > 0) {
    throw new OutpostError('AGENT_BAD_REQUEST', problems.join('; '), { details: problems });
  }
  return { type: parsed.data.type, lane: parsed.data.lane ?? DEFAULT_LANE, bodyJson };
}
