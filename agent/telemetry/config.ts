import { z } from 'zod';
import { configInt } from '../../shared/index.js';

/**
 * `telemetry` of the agent config. Env `OUTPOST_AGENT_TELEMETRY__INTERVAL_MS`;
 * flags `--telemetry.interval-ms 30000`.
 */
export const TelemetryConfigSchema = z
  .strictObject({
    /** Period of `telemetry.device` and `telemetry.drift` events, ms; default 60 s. */
    intervalMs: configInt().min(50).max(86_400_000).default(60_000),
    /** Wait before asking the hub again for a model version's drift edges, ms; default 60 s. */
    driftEdgesRetryMs: configInt().min(50).default(60_000),
    /** Warn-and-worse log lines shipped to the hub (`outpost devices logs`). */
    logs: z
      .strictObject({
        /** Most lines a minute; the rest are counted as dropped. 0 ships nothing. Default 60. */
        maxPerMinute: configInt().min(0).max(6_000).default(60),
      })
      .prefault({}),
  })
  .prefault({});
