import { z } from 'zod';
import { configInt } from '../../shared/index.js';

/**
 * `limits` of the hub config (issue 8 item 5, hostile input). Env `OUTPOST_HUB_LIMITS__…`.
 */
export const LimitsConfigSchema = z
  .strictObject({
    http: z
      .strictObject({
        /** Sustained HTTP requests per second per client address; default 50. */
        ratePerS: z.coerce.number<unknown>().positive().default(50),
        /** Requests a client may make at once before the rate applies; default 200. */
        burst: configInt().min(1).default(200),
      })
      .prefault({}),
    mqtt: z
      .strictObject({
        /** Sustained CONNECTs per second per device id (embedded broker); default 0.5. */
        connectsPerS: z.coerce.number<unknown>().positive().default(0.5),
        /** CONNECTs a device may make in a row before that rate applies; default 20. */
        connectBurst: configInt().min(1).default(20),
      })
      .prefault({}),
  })
  .prefault({});

export type LimitsConfig = z.output<typeof LimitsConfigSchema>;
