import {
  addCounters,
  emptyCounters,
  type GateResult,
  judgeGates,
  latencyQuantile,
  type MetricCounters,
  parseGate,
  type RolloutRequest,
} from '../../shared/index.js';
import type { ModelCounterRow, RolloutArm, RolloutDevice } from '../store/rollout-types.js';
import type { RolloutStrategy } from './strategies/index.js';

/** The counters of one arm: the arm's devices' reports of the arm's (version, role). */
export function armCounters(
  spec: RolloutRequest,
  strategy: RolloutStrategy,
  arm: RolloutArm,
  devices: readonly RolloutDevice[],
  rows: readonly ModelCounterRow[],
): { counters: MetricCounters; devices: number } {
  const { version, role } = strategy.reports(spec, arm);
  const ids = new Set(devices.filter((d) => d.arm === arm).map((d) => d.deviceId));
  const counters = emptyCounters();
  const reporting = new Set<string>();
  for (const r of rows) {
    if (!ids.has(r.deviceId) || r.model !== spec.model || r.version !== version || r.role !== role) continue;
    addCounters(counters, r.counters);
    reporting.add(r.deviceId);
  }
  return { counters, devices: reporting.size };
}

/** The gates' verdict over the candidate arm. */
export interface RolloutVerdict {
  verdict: 'pass' | 'fail' | 'wait';
  results: GateResult[];
  failed?: GateResult;
  counters: MetricCounters;
  /** Candidate devices whose reports are in `counters`. */
  reporting: number;
}

/** Drift of a model version for the `drift_psi`/`drift_ks` gates; undefined: too little data. */
export type DriftValues = { psi: number | null; ks: number | null } | undefined;

/** Looks up the drift of a model version (read from the store: asynchronous). */
export type DriftLookup = (model: string, version: string) => DriftValues | Promise<DriftValues>;

/** The drift of the rollout's candidate version, for {@link judgeRollout}; undefined without a lookup. */
export async function candidateDrift(
  spec: RolloutRequest,
  strategy: RolloutStrategy,
  drift?: DriftLookup,
): Promise<DriftValues> {
  return drift?.(spec.model, strategy.reports(spec, 'candidate').version);
}

/** Judges the rollout's gates over the candidate arm's counters (and its drift, when given). */
export function judgeRollout(
  spec: RolloutRequest,
  strategy: RolloutStrategy,
  devices: readonly RolloutDevice[],
  rows: readonly ModelCounterRow[],
  d?: DriftValues,
): RolloutVerdict {
  const { counters, devices: reporting } = armCounters(spec, strategy, 'candidate', devices, rows);
  if (d?.psi != null) counters.driftPsi = d.psi;
  if (d?.ks != null) counters.driftKs = d.ks;
  const judged = judgeGates(spec.gates.map(parseGate), counters);
  return { ...judged, counters, reporting };
}

/** The counters of every arm summarised for `rollouts status` (A/B side by side). */
export function summarise(c: MetricCounters): Record<string, number | null> {
  const m = (v: number | undefined) => (v === undefined || !Number.isFinite(v) ? null : v);
  const ratio = (a: number, b: number) => (b === 0 ? null : a / b);
  const q = (p: number) => m(latencyQuantile(c, p));
  return {
    requests: c.requests,
    errors: c.errors,
    error_rate: ratio(c.errors, c.requests),
    p50_ms: q(0.5),
    p95_ms: q(0.95),
    mean_ms: ratio(c.latencySumMs, c.requests),
    confidence: ratio(c.confidenceSum, c.confidenceCount),
    compared: c.compared,
    agreement: ratio(c.agreed, c.compared),
  };
}
