import type { DriftMonitor } from '../drift/monitor.js';
import type { HubStore } from '../store/types.js';

/** What the dashboard pages read. */
export interface DashboardDeps {
  /** Devices, rollouts, federated tasks, and the device telemetry the fold keeps. */
  store: HubStore;
  drift: DriftMonitor;
  /** Drift thresholds drawn on charts. */
  thresholds: { psi: number; ks: number };
  now: () => number;
}

/** The parts of a reported state the dashboard shows (validated loosely: `reported` is unknown). */
export interface ReportedView {
  agentVersion?: string;
  appliedRev?: number;
  outbox?: Record<string, { pending?: number; pendingBytes?: number }>;
  inference?: {
    profile?: { name?: string };
    models?: Array<{ name?: string; version?: string; precision?: string; engine?: string | null }>;
  };
  host?: { platform?: string; arch?: string; hostname?: string };
}

/** Reads the reported state defensively (it was validated at ingest, but may be older). */
export function reportedView(reported: unknown): ReportedView {
  return typeof reported === 'object' && reported !== null ? (reported as ReportedView) : {};
}
