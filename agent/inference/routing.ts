import { z } from 'zod';
import { configInt } from '../../shared/index.js';

/** How a model's inferences are routed between the device and the hub. */
export const ROUTE_MODES = ['local', 'cloud', 'local-first', 'cloud-first'] as const;
export type RouteMode = (typeof ROUTE_MODES)[number];

/**
 * One model's route (config `inference.routes.NAME`):
 * - `local` (default): on the device only.
 * - `cloud`: on the hub only; fails with `INFER_CLOUD_UNAVAILABLE` when it cannot be asked.
 * - `local-first`: on the device; escalated to the hub's (bigger) model when the local
 *   confidence is below `confidenceThreshold` and the hub is reachable.
 * - `cloud-first`: on the hub; the local model answers when the device is offline, the hub
 *   refuses, or `deadlineMs` passes.
 */
export const ModelRouteSchema = z.strictObject({
  mode: z.enum(ROUTE_MODES).default('local'),
  /** local-first: escalate when confidence < this, 0-1; default 0.6. */
  confidenceThreshold: z.number().min(0).max(1).default(0.6),
  /**
   * Output whose largest value per row is the confidence (the smallest over the batch counts);
   * default `probs` when the model has it, else its first float output.
   */
  confidenceOutput: z.string().min(1).optional(),
  /** Longest wait for the hub, ms; default 2000. */
  deadlineMs: configInt().min(1).max(120_000).default(2000),
  /** The hub's model name; default the same name. */
  cloudModel: z.string().min(1).optional(),
  /**
   * When the hub could not be asked (offline, refused, past the deadline), queue the input
   * in the outbox `results` lane as an `inference.rescore` event for re-scoring later;
   * default false (inputs may be private).
   */
  rescoreOffline: z.boolean().default(false),
});
export type ModelRoute = z.output<typeof ModelRouteSchema>;

/** The route of a model without configuration. */
export const LOCAL_ROUTE: ModelRoute = ModelRouteSchema.parse({});

/** How one inference was routed, returned with its result. */
export interface RouteOutcome {
  mode: RouteMode;
  /** Where the returned outputs come from. */
  servedBy: 'local' | 'cloud';
  /** local-first: the local answer was not confident enough and the hub answered instead. */
  escalated: boolean;
  /** The local confidence, when it was computed. */
  confidence?: number;
  /** Why the other side did not answer (hub offline, refused, deadline…), when it did not. */
  fallback?: string;
  /** The input was queued for cloud re-scoring. */
  rescoreQueued?: boolean;
}

/** Counters per model since start: how inferences were served. */
export interface RouteCounters {
  local: number;
  cloud: number;
  escalated: number;
  fallbacks: number;
  rescoreQueued: number;
}
