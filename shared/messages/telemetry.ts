import { z } from 'zod';
import { SemverSchema } from '../manifest.js';
import { EpochMs } from './common.js';

/**
 * Upper bounds (inclusive, ms) of the latency histogram buckets every agent reports per
 * model version. A report's `latency` has one count per bound plus one
 * last overflow bucket (`> 5000 ms`), so `latency.length === LATENCY_BUCKETS_MS.length + 1`.
 * Fixed so that counts from every device and every flush simply add up.
 */
export const LATENCY_BUCKETS_MS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000] as const;

/** Number of histogram counts in a report: one per bound plus the overflow bucket. */
export const LATENCY_BUCKET_COUNT = LATENCY_BUCKETS_MS.length + 1;

/** Event type of a per-model metrics report in the `telemetry` lane. */
export const MODEL_TELEMETRY_EVENT = 'telemetry.model';

/**
 * Which side of a model a report counts: `active` is the version callers are answered by,
 * `shadow` the candidate run beside it on the same inputs, whose answers
 * nobody sees.
 */
export const MODEL_ROLES = ['active', 'shadow'] as const;
export const ModelRoleSchema = z.enum(MODEL_ROLES);
export type ModelRole = z.infer<typeof ModelRoleSchema>;

const Count = z.number().int().nonnegative();

/**
 * Counters of one (model, version, role) over one flush window — a delta, never a running
 * total, so the hub adds each report exactly once (the outbox delivers each event once).
 *
 * - `requests`: inferences answered (cache hits included) or, for `shadow`, shadow runs.
 * - `errors`: of those, how many failed (engine failure or inputs the version refuses).
 * - `latency`: histogram over {@link LATENCY_BUCKETS_MS}; `latencySumMs` their sum, ms.
 * - `confidenceSum` / `confidenceCount`: mean confidence = sum / count, over answered rows;
 *   see `agent/metrics/confidence.ts` for the definition per output kind.
 * - `compared` / `agreed` (shadow only): shadow answers compared with the active answer on
 *   the same inputs, and how many agreed (same top class, or within tolerance).
 */
export const ModelMetricsSchema = z
  .object({
    model: z.string().min(1).max(128),
    version: SemverSchema,
    role: ModelRoleSchema,
    requests: Count,
    errors: Count,
    latency: z.array(Count).length(LATENCY_BUCKET_COUNT),
    latencySumMs: z.number().nonnegative(),
    confidenceSum: z.number().nonnegative(),
    confidenceCount: Count,
    compared: Count.optional(),
    agreed: Count.optional(),
  })
  .superRefine((m, ctx) => {
    if (m.errors > m.requests)
      ctx.addIssue({ code: 'custom', path: ['errors'], message: 'errors exceed requests' });
    if ((m.agreed ?? 0) > (m.compared ?? 0))
      ctx.addIssue({ code: 'custom', path: ['agreed'], message: 'agreed exceeds compared' });
    if (m.confidenceSum > m.confidenceCount + 1e-6)
      ctx.addIssue({ code: 'custom', path: ['confidenceSum'], message: 'mean confidence above 1' });
  });
export type ModelMetrics = z.infer<typeof ModelMetricsSchema>;

/** Body of a `telemetry.model` event: every (model, version, role) active in the window. */
export const ModelTelemetrySchema = z.object({
  /** Device wall clock at the start and end of the window, ms. */
  from: EpochMs,
  to: EpochMs,
  models: z.array(ModelMetricsSchema).min(1).max(256),
});
export type ModelTelemetry = z.infer<typeof ModelTelemetrySchema>;

/** Index of the histogram bucket of a latency in ms (the overflow bucket past the last bound). */
export function latencyBucket(ms: number): number {
  for (let i = 0; i < LATENCY_BUCKETS_MS.length; i++) {
    if (ms <= (LATENCY_BUCKETS_MS[i] as number)) return i;
  }
  return LATENCY_BUCKETS_MS.length;
}
