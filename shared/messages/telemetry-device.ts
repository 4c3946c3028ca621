import { z } from 'zod';
import { CacheReportSchema, ReportedEngineSchema } from '../inference.js';
import { PRECISIONS, SemverSchema } from '../manifest.js';
import { EpochMs } from './common.js';
import { LaneLedgerSchema } from './ledger.js';
import { laneRecord } from './tolerance.js';

/** Event type of a device health report in the `telemetry` lane. */
export const DEVICE_TELEMETRY_EVENT = 'telemetry.device';

const Count = z.number().int().nonnegative();
const Bytes = z.number().int().nonnegative();

/** One lane of the outbox: events and bytes waiting for the hub's ack, and the loss ledger. */
export const LaneTelemetrySchema = z.object({
  depth: Count,
  bytes: Bytes,
  ledger: LaneLedgerSchema,
});

/**
 * Body of a `telemetry.device` event: a snapshot of the device's health, sent every
 * `telemetry.intervalMs` (agent config). Latency histograms and errors per model travel in
 * `telemetry.model`; this report adds what is per device.
 *
 * - `uptimeS`: seconds since the agent started; `memory`: process RSS and JS heap, bytes;
 * - `disk`: free and total bytes of the filesystem holding the agent's store (null when
 *   the platform cannot tell);
 * - `engines`: the engine each active model runs on (null: none admitted);
 * - `cache`: result-cache counters since start; `hitRate` = hits / (hits + misses), null
 *   before any lookup;
 * - `outbox`: depth, bytes and loss ledger per lane;
 * - `link`: connections so far, dead links detected, last ping round trip (ms).
 */
export const DeviceTelemetrySchema = z.object({
  at: EpochMs,
  uptimeS: z.number().nonnegative(),
  profile: z.string().max(64),
  memory: z.object({ rssBytes: Bytes, heapUsedBytes: Bytes }),
  disk: z.object({ freeBytes: Bytes, totalBytes: Bytes }).nullable(),
  engines: z
    .array(
      z.object({
        model: z.string().min(1).max(64),
        version: SemverSchema,
        precision: z.enum(PRECISIONS),
        engine: ReportedEngineSchema.nullable(),
      }),
    )
    .max(256),
  cache: CacheReportSchema.extend({ hitRate: z.number().min(0).max(1).nullable() }),
  outbox: laneRecord(LaneTelemetrySchema),
  link: z.object({
    connects: Count,
    deadLinks: Count,
    pingRttMs: z.number().nonnegative().nullable(),
  }),
});
export type DeviceTelemetry = z.infer<typeof DeviceTelemetrySchema>;
