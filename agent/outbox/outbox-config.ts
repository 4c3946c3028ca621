import { z } from 'zod';
import { configInt, LANES, type Lane } from '../../shared/index.js';
import type { LaneQuota } from '../store/index.js';
import { QuotaPolicySchema } from './policies/index.js';

const MiB = 1024 * 1024;

/**
 * Default quota and TTL per lane, chosen for what each lane carries:
 * - `control` (state, rollout reports, command results): small, precious → back-pressure, no TTL;
 * - `results` (inference results): valuable → back-pressure, no TTL;
 * - `telemetry`: plentiful, the newest matters most → drop-oldest, 7 days of agent time;
 * - `learning` (federated updates): large, a newer round supersedes → drop-oldest, 1 day.
 */
export const DEFAULT_LANE_QUOTAS: Readonly<Record<Lane, LaneQuota>> = {
  control: { maxRows: 10_000, maxBytes: 16 * MiB, policy: 'back-pressure', ttlS: 0 },
  results: { maxRows: 100_000, maxBytes: 64 * MiB, policy: 'back-pressure', ttlS: 0 },
  telemetry: { maxRows: 1_000_000, maxBytes: 256 * MiB, policy: 'drop-oldest', ttlS: 7 * 86_400 },
  learning: { maxRows: 1_000, maxBytes: 256 * MiB, policy: 'drop-oldest', ttlS: 86_400 },
};

/** Default round-robin weights of the drain: control 8, results 4, telemetry 2, learning 1. */
export const DEFAULT_LANE_WEIGHTS: Readonly<Record<Lane, number>> = {
  control: 8,
  results: 4,
  telemetry: 2,
  learning: 1,
};

const laneQuota = (d: LaneQuota) =>
  z
    .strictObject({
      /** Most events pending in the lane. */
      maxRows: configInt().min(1).default(d.maxRows),
      /** Most envelope bytes pending in the lane. */
      maxBytes: configInt().min(1024).default(d.maxBytes),
      /** `back-pressure` (refuse with 503) or `drop-oldest` (drop, booked in the loss ledger). */
      policy: QuotaPolicySchema.default(d.policy),
      /** Time to live of a pending event, seconds of agent running time; 0 = forever. */
      ttlS: configInt().min(0).default(d.ttlS),
    })
    .prefault({});

/**
 * A strict object with one `schema(lane)` per lane of {@link LANES}: a lane added there gets
 * its entry here (and its defaults from the `Record<Lane, …>` tables above) without another edit.
 */
function perLane<S extends z.ZodType>(schema: (lane: Lane) => S) {
  const shape = Object.fromEntries(LANES.map((lane) => [lane, schema(lane)])) as Record<Lane, S>;
  return z.strictObject(shape);
}

/** Config `outbox.lanes`: quota, policy and TTL per lane. */
export const LaneQuotasSchema = perLane((lane) => laneQuota(DEFAULT_LANE_QUOTAS[lane])).prefault({});

const weight = (d: number) => configInt().min(1).max(1000).default(d);

/** Config `outbox.weights`: the drain's round-robin weight per lane. */
export const LaneWeightsSchema = perLane((lane) => weight(DEFAULT_LANE_WEIGHTS[lane])).prefault({});
