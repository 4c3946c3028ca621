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
  /** What the hub's broker saw of a device since the hub started (the embedded one; else empty). */
  deviceHealth?: DeviceHealthSource;
}

/** Per-device counts the hub keeps in memory. */
export interface DeviceHealthSource {
  /** Connections that took over the device's live session. */
  clientIdConflicts(deviceId: string): number;
  /** Refused connects, publishes and messages of this device id, by reason. */
  rejections(deviceId: string): Record<string, { count: number; lastAt: number }>;
}

/** The parts of a reported state the dashboard shows (validated loosely: `reported` is unknown). */
export interface ReportedView {
  agentVersion?: string;
  appliedRev?: number;
  outbox?: Record<string, { pending?: number; pendingBytes?: number }>;
  inference?: {
    profile?: { name?: string };
    models?: Array<{
      name?: string;
      version?: string;
      precision?: string;
      engine?: string | null;
      error?: string;
      rejected?: Array<{ engine?: string; stage?: string; reason?: string }>;
    }>;
  };
  models?: Array<{
    name?: string;
    refused?: { version?: string; code?: string; reason?: string; at?: number };
  }>;
  link?: { lastError?: string | null };
  host?: { platform?: string; arch?: string; hostname?: string };
}

/** Reads the reported state defensively (it was validated at ingest, but may be older). */
export function reportedView(reported: unknown): ReportedView {
  return typeof reported === 'object' && reported !== null ? (reported as ReportedView) : {};
}
