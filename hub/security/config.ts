import { z } from 'zod';
import { configInt } from '../../shared/index.js';

/** Bounds on failed authentications (see `AuthFailureGuard`), the same for MQTT and HTTP. */
const failureLimits = {
  /** Failed authentications per second per source address, sustained; default 1. */
  failuresPerS: z.coerce.number<unknown>().positive().default(1),
  /** Failed authentications a source address may make in a row; default 10. */
  failureBurst: configInt().min(1).default(10),
  /** Failed authentications per second from all addresses together, sustained; default 20. */
  overallFailuresPerS: z.coerce.number<unknown>().positive().default(20),
  /** Failed authentications from all addresses together in a row; default 200. */
  overallFailureBurst: configInt().min(1).default(200),
};

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
        /** Device Basic credentials (artifacts, inference, drift) that fail. */
        ...failureLimits,
      })
      .prefault({}),
    mqtt: z
      .strictObject({
        /**
         * Sustained successful CONNECTs per second per device (embedded broker; charged after
         * authentication, so only the device itself spends them); default 2.
         */
        connectsPerS: z.coerce.number<unknown>().positive().default(2),
        /** CONNECTs a device may make in a row before that rate applies; default 60. */
        connectBurst: configInt().min(1).default(60),
        ...failureLimits,
        /** A connection that has not completed CONNECT within this is closed; default 10000 ms. */
        connectTimeoutMs: configInt().min(100).default(10_000),
      })
      .prefault({}),
  })
  .prefault({});

export type LimitsConfig = z.output<typeof LimitsConfigSchema>;
export type MqttLimitsConfig = LimitsConfig['mqtt'];
