import { z } from 'zod';
import { configInt } from '../../shared/index.js';

/**
 * `limits` of the hub config (hostile input). Env `OUTPOST_HUB_LIMITS__…`.
 */
export const LimitsConfigSchema = z
  .strictObject({
    http: z
      .strictObject({
        /**
         * Sustained HTTP requests per second per client address; default 1000 (agents behind
         * one NAT share an address: size it for the busiest address, not one device).
         */
        ratePerS: z.coerce.number<unknown>().positive().default(1000),
        /** Requests a client may make at once before the rate applies; default 5000. */
        burst: configInt().min(1).default(5000),
      })
      .prefault({}),
    mqtt: z
      .strictObject({
        /** Sustained CONNECTs per second per device id (embedded broker); default 2. */
        connectsPerS: z.coerce.number<unknown>().positive().default(2),
        /** CONNECTs a device may make in a row before that rate applies; default 60. */
        connectBurst: configInt().min(1).default(60),
      })
      .prefault({}),
  })
  .prefault({});

export type LimitsConfig = z.output<typeof LimitsConfigSchema>;
