/**
 * Rows of the rollout tables and their mapping to records, shared by the SQLite and the
 * PostgreSQL implementations of `RolloutStore` (same columns in both schemas).
 */
import type { ModelRole, RolloutRequest, RolloutState } from '../../shared/index.js';
import type { ModelCounterRow, RolloutDevice, RolloutRecord } from './rollout-types.js';

export interface RolloutRow {
  id: string;
  spec: string;
  state: string;
  stage: number;
  stage_started_at: number;
  created_at: number;
  updated_at: number;
  reason: string | null;
}

export interface DeviceRow {
  rollout_id: string;
  device_id: string;
  arm: string;
  version: string;
  role: string;
  stage: number;
  assigned_at: number;
  previous: string | null;
  reported_at: number | null;
  excluded_at: number | null;
  rolled_back_at: number | null;
}

export interface CounterRow {
  rollout_id: string;
  device_id: string;
  model: string;
  version: string;
  role: string;
  requests: number;
  errors: number;
  latency: string;
  latency_sum_ms: number;
  confidence_sum: number;
  confidence_count: number;
  compared: number;
  agreed: number;
  first_at: number;
  last_at: number;
}

export const toRollout = (r: RolloutRow): RolloutRecord => ({
  id: r.id,
  spec: JSON.parse(r.spec) as RolloutRequest,
  state: r.state as RolloutState,
  stage: r.stage,
  stageStartedAt: r.stage_started_at,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
  reason: r.reason,
});

export const toDevice = (r: DeviceRow): RolloutDevice => ({
  rolloutId: r.rollout_id,
  deviceId: r.device_id,
  arm: r.arm as RolloutDevice['arm'],
  version: r.version,
  role: r.role as ModelRole,
  stage: r.stage,
  assignedAt: r.assigned_at,
  previous: r.previous,
  reportedAt: r.reported_at,
  excludedAt: r.excluded_at,
  rolledBackAt: r.rolled_back_at,
});

export const toCounters = (r: CounterRow): ModelCounterRow => ({
  rolloutId: r.rollout_id,
  deviceId: r.device_id,
  model: r.model,
  version: r.version,
  role: r.role as ModelRole,
  counters: {
    requests: r.requests,
    errors: r.errors,
    latency: JSON.parse(r.latency) as number[],
    latencySumMs: r.latency_sum_ms,
    confidenceSum: r.confidence_sum,
    confidenceCount: r.confidence_count,
    compared: r.compared,
    agreed: r.agreed,
  },
  firstAt: r.first_at,
  lastAt: r.last_at,
});
