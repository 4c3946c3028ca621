import { z } from 'zod';
import { SemverSchema } from '../manifest.js';
import { EpochMs } from './common.js';

/** Event type of a drift summary in the `telemetry` lane. */
export const DRIFT_EVENT = 'telemetry.drift';

/** Most features (input elements) a drift summary may carry; larger inputs are projected. */
export const DRIFT_MAX_FEATURES = 256;
/** Most histogram bins per feature (and classes per output histogram). */
export const DRIFT_MAX_BINS = 64;

const Count = z.number().int().nonnegative();

/**
 * Bin edges of one feature, ascending, strictly increasing: `k` edges make `k + 1` bins,
 * `(-inf, e0], (e0, e1], …, (e_{k-1}, +inf)`. Fixed by the baseline, so every device bins
 * the same way and counts add up.
 */
export const BinEdgesSchema = z
  .array(z.number())
  .min(1)
  .max(DRIFT_MAX_BINS - 1)
  .refine((e) => e.every((v, i) => i === 0 || v > (e[i - 1] as number)), 'edges must strictly increase');

/**
 * What a device summarises of one model version's traffic over a window: per feature a
 * histogram over the baseline's edges (`counts.length === edges.length + 1`), and the
 * histogram of the predicted class (argmax of the first output). Never raw data.
 */
export const DriftSummarySchema = z.object({
  model: z.string().min(1).max(64),
  version: SemverSchema,
  /** Inferences summarised. */
  rows: Count,
  /** Per feature: counts over the baseline's bins; empty when the device has no baseline edges. */
  features: z.array(z.array(Count).min(2).max(DRIFT_MAX_BINS)).max(DRIFT_MAX_FEATURES),
  /** Predicted class counts (index = class); empty when the model has no class output. */
  classes: z.array(Count).max(4096),
});
export type DriftSummary = z.infer<typeof DriftSummarySchema>;

/** Body of a `telemetry.drift` event: every model version summarised in the window. */
export const DriftTelemetrySchema = z.object({
  from: EpochMs,
  to: EpochMs,
  models: z.array(DriftSummarySchema).min(1).max(64),
});
export type DriftTelemetry = z.infer<typeof DriftTelemetrySchema>;

/**
 * The baseline of a model version (hub side, served to devices as their bin edges): per
 * feature the edges and the reference counts, and the reference class counts.
 */
export const DriftBaselineSchema = z
  .object({
    model: z.string().min(1).max(64),
    version: SemverSchema,
    /** Where it came from: a reference sample, or summaries set by an admin. */
    source: z.enum(['sample', 'summaries']),
    features: z.array(z.object({ edges: BinEdgesSchema, counts: z.array(Count) })).max(DRIFT_MAX_FEATURES),
    classes: z.array(Count).max(4096),
    /** Index of the input elements used (feature i = flat element `elements[i]`); default 0..n-1. */
    elements: z.array(z.number().int().nonnegative()).max(DRIFT_MAX_FEATURES).optional(),
    createdAt: EpochMs,
  })
  .superRefine((b, ctx) => {
    b.features.forEach((f, i) => {
      if (f.counts.length !== f.edges.length + 1)
        ctx.addIssue({
          code: 'custom',
          path: ['features', i, 'counts'],
          message: 'needs edges.length + 1 counts',
        });
    });
  });
export type DriftBaseline = z.infer<typeof DriftBaselineSchema>;

/**
 * Index of the bin of `value` over ascending `edges` (k edges, k + 1 bins):
 * bin 0 is `(-inf, e0]`, bin i is `(e_{i-1}, e_i]`, bin k is `(e_{k-1}, +inf)`. NaN goes to
 * the last bin. Binary search, O(log k).
 */
export function binIndex(edges: readonly number[], value: number): number {
  if (Number.isNaN(value)) return edges.length;
  let lo = 0;
  let hi = edges.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (value <= (edges[mid] as number)) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/** Counts of `values` over `edges` (see {@link binIndex}). */
export function histogram(edges: readonly number[], values: Iterable<number>): number[] {
  const counts = new Array<number>(edges.length + 1).fill(0);
  for (const v of values) {
    const i = binIndex(edges, v);
    counts[i] = (counts[i] as number) + 1;
  }
  return counts;
}
