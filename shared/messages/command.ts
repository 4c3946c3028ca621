import { z } from 'zod';
import { EpochMs, ProtocolVersion } from './common.js';
import { PvSchema } from './version.js';

/**
 * Commands an agent understands. Unknown names are refused by the schema, never ignored: the
 * agent answers them with a failed `cmd.result` naming why.
 */
export const COMMAND_NAMES = ['ping', 'report-state'] as const;
export const CommandNameSchema = z.enum(COMMAND_NAMES);
export type CommandName = z.infer<typeof CommandNameSchema>;

/**
 * `outpost/v1/d/{id}/cmd`: a one-shot instruction. The agent answers through its outbox
 * (`control` lane, event type `cmd.result`) so the answer survives being offline.
 */
export const CommandSchema = z.object({
  v: ProtocolVersion,
  /** Protocol major.minor (shared/messages/version.ts); absent from the previous release. */
  pv: PvSchema.optional(),
  id: z.string().min(1).max(64),
  name: CommandNameSchema,
  args: z.record(z.string(), z.unknown()).default({}),
  at: EpochMs,
});
export type Command = z.infer<typeof CommandSchema>;
export type CommandInput = z.input<typeof CommandSchema>;

/** Body of the `cmd.result` event the agent enqueues for every command it received. */
export const CommandResultSchema = z.object({
  id: z.string().min(1).max(64),
  name: z.string().max(64),
  ok: z.boolean(),
  result: z.unknown().optional(),
  error: z.string().max(1024).optional(),
});
export type CommandResult = z.infer<typeof CommandResultSchema>;
