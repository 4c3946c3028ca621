import { z } from 'zod';
import type { Strategy } from '../types.js';
import { fedAvg } from './fedavg.js';

/** FedProx parameters. */
export const FedProxParamsSchema = z
  .object({
    /** Proximal coefficient μ the clients train with (Li et al. 2020; default 0.01). */
    mu: z.number().nonnegative().default(0.01),
    serverLr: z.number().positive().default(1),
  })
  .strict();

/**
 * FedProx (Li et al. 2020): the server side is FedAvg's weighted mean; the difference is on
 * the clients, which add `μ/2·‖w − w_global‖²` to their loss — `clientConfig()` hands them μ
 * (the trainer applies it, see `trainLocal`'s `proxMu`). Streams: memory O(model).
 */
export function fedProx(params: z.input<typeof FedProxParamsSchema> = {}): Strategy {
  const { mu, serverLr } = FedProxParamsSchema.parse(params);
  const avg = fedAvg({ serverLr });
  return { ...avg, name: 'fedprox', clientConfig: () => ({ proxMu: mu }) };
}
