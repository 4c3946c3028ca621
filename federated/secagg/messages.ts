import { z } from 'zod';
import { OutpostError } from '../../shared/index.js';

/**
 * Round parameters every participant must agree on (the server announces them with the task).
 * `n·maxAbs·scale < 2^31` must hold so the sum of fixed-point values cannot wrap.
 */
export const SecAggParamsSchema = z
  .object({
    /** Round number: bound into every derived key, so masks never repeat across rounds. */
    round: z.number().int().nonnegative(),
    /** Shares needed to reconstruct a secret, t: also the fewest survivors that can finish. */
    threshold: z.number().int().min(2),
    /** Values per client (the flattened update's length). */
    length: z.number().int().positive(),
    /** Fixed-point scale (default 2^16: resolution 1.5e-5). */
    scale: z.number().positive().default(65536),
    /** Largest |value| a client may submit (default 1: clip deltas to L2 ≤ 1 first). */
    maxAbs: z.number().positive().default(1),
    /** Most clients in the round (sizes the overflow check; default 255, the Shamir limit). */
    maxClients: z.number().int().min(2).max(255).default(255),
  })
  .strict()
  .refine((p) => p.maxClients * p.maxAbs * p.scale < 2 ** 31, {
    message: 'maxClients·maxAbs·scale must be < 2^31, or the fixed-point sum can wrap',
  })
  .refine((p) => p.threshold <= p.maxClients, { message: 'threshold exceeds maxClients' });
export type SecAggParams = z.output<typeof SecAggParamsSchema>;

/** Parses round parameters; throws `FL_BAD_PARAMS` naming each problem. */
export function parseSecAggParams(input: z.input<typeof SecAggParamsSchema>): SecAggParams {
  const r = SecAggParamsSchema.safeParse(input);
  if (!r.success)
    throw new OutpostError(
      'FL_BAD_PARAMS',
      `secure aggregation: ${r.error.issues.map((i) => `${i.path.join('.') || 'params'}: ${i.message}`).join('; ')}`,
    );
  return r.data;
}

/** Step 1, client → server: two x25519 public keys (raw 32 bytes, base64): one for the share channel, one for masks. */
export interface Advertisement {
  clientId: string;
  encPublicKey: string;
  maskPublicKey: string;
}

/** The server's list of advertised clients, sorted by id (its order defines Shamir x = position + 1). */
export type Roster = Advertisement[];

/** Step 2, client → server → client: shares of the sender's mask key and self-mask seed, AES-256-GCM to the recipient (base64 iv·tag·ciphertext). */
export interface EncryptedShares {
  from: string;
  to: string;
  ciphertext: string;
}

/** Step 4, surviving client → server: for each other client, exactly one kind of share. */
export interface UnmaskResponse {
  from: string;
  /** Shares of survivors' self-mask seeds (`b`) and of dropped clients' mask keys (`sk`). */
  shares: Array<{ of: string; kind: 'b' | 'sk'; x: number; y: string }>;
}

export const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64');
export const unb64 = (s: string) => new Uint8Array(Buffer.from(s, 'base64'));
