import type { DeviceTelemetry } from '../../shared/index.js';

/** Points of history kept per device for the dashboard's charts. */
export const DEVICE_HISTORY_POINTS = 120;

/** One point of a device's history: report time, outbox depth (all lanes), RSS bytes, cache hit rate. */
export interface DeviceTelemetryPoint {
  at: number;
  depth: number;
  rssBytes: number;
  hitRate: number | null;
}

/** The latest report of a device and a short history of its headline figures. */
export interface DeviceTelemetryEntry {
  deviceId: string;
  /** Hub clock when the latest report was stored, ms. */
  receivedAt: number;
  latest: DeviceTelemetry;
  /** Oldest first, at most {@link DEVICE_HISTORY_POINTS}. */
  history: DeviceTelemetryPoint[];
}

/** The history point of one report. */
export function telemetryPoint(report: DeviceTelemetry): DeviceTelemetryPoint {
  return {
    at: report.at,
    depth: Object.values(report.outbox).reduce((n, lane) => n + (lane?.depth ?? 0), 0),
    rssBytes: report.memory.rssBytes,
    hitRate: report.cache.hitRate,
  };
}

/**
 * Adds one valid `telemetry.device` report to a device's entry (undefined before its first):
 * it becomes the latest unless it is older than the latest (an older report resent after a
 * newer one goes into the history only); the history stays sorted by report time and keeps
 * the newest {@link DEVICE_HISTORY_POINTS} points. Returns the new entry (the input is not
 * changed). The telemetry fold (`hub/store/telemetry.ts`) applies it on every backend.
 */
export function addDeviceReport(
  entry: DeviceTelemetryEntry | undefined,
  deviceId: string,
  report: DeviceTelemetry,
  receivedAt: number,
): DeviceTelemetryEntry {
  const point = telemetryPoint(report);
  if (entry === undefined) return { deviceId, receivedAt, latest: report, history: [point] };
  const newer = report.at >= entry.latest.at;
  // Sorted by report time: a point goes after every point not later than it (usually last).
  let i = entry.history.length;
  while (i > 0 && (entry.history[i - 1] as DeviceTelemetryPoint).at > point.at) i--;
  const history = [...entry.history.slice(0, i), point, ...entry.history.slice(i)];
  return {
    deviceId,
    receivedAt: newer ? receivedAt : entry.receivedAt,
    latest: newer ? report : entry.latest,
    history: history.length > DEVICE_HISTORY_POINTS ? history.slice(-DEVICE_HISTORY_POINTS) : history,
  };
}
