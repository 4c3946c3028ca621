import type { Logger } from 'pino';
import { type DeviceTelemetry, DeviceTelemetrySchema, formatIssues } from '../../shared/index.js';

/** Points of history kept per device for the dashboard's charts. */
export const DEVICE_HISTORY_POINTS = 120;

/** The latest report of a device and a short history of its headline figures. */
export interface DeviceTelemetryEntry {
  deviceId: string;
  /** Hub clock when the latest report arrived, ms. */
  receivedAt: number;
  latest: DeviceTelemetry;
  /** Oldest first: report time, outbox depth (all lanes), RSS bytes, cache hit rate. */
  history: Array<{ at: number; depth: number; rssBytes: number; hitRate: number | null }>;
}

/**
 * Device telemetry on the hub: the latest `telemetry.device` report per
 * device, with {@link DEVICE_HISTORY_POINTS} points of history, in memory. An invalid body
 * is logged at `warn` once per device and counted in {@link invalid}.
 */
export class DeviceTelemetryBook {
  readonly #entries = new Map<string, DeviceTelemetryEntry>();
  readonly #warned = new Set<string>();
  #invalid = 0;

  constructor(private readonly log: Logger) {}

  /** Records one report; returns false (and warns once per device) when the body is invalid. */
  record(deviceId: string, body: unknown, receivedAt: number): boolean {
    const parsed = DeviceTelemetrySchema.safeParse(body);
    if (!parsed.success) {
      this.#invalid++;
      if (!this.#warned.has(deviceId)) {
        this.#warned.add(deviceId);
        this.log.warn(
          { deviceId, problems: formatIssues(parsed.error) },
          'invalid telemetry.device report dropped (logged once per device)',
        );
      }
      return false;
    }
    const report = parsed.data;
    const entry = this.#entries.get(deviceId);
    // Out of order (an older report resent after a newer one): history only, not latest.
    const point = {
      at: report.at,
      depth: Object.values(report.outbox).reduce((n, lane) => n + (lane?.depth ?? 0), 0),
      rssBytes: report.memory.rssBytes,
      hitRate: report.cache.hitRate,
    };
    if (entry === undefined) {
      this.#entries.set(deviceId, { deviceId, receivedAt, latest: report, history: [point] });
      return true;
    }
    if (report.at >= entry.latest.at) {
      entry.latest = report;
      entry.receivedAt = receivedAt;
    }
    entry.history.push(point);
    entry.history.sort((a, b) => a.at - b.at);
    if (entry.history.length > DEVICE_HISTORY_POINTS) entry.history.shift();
    return true;
  }

  get(deviceId: string): DeviceTelemetryEntry | undefined {
    return this.#entries.get(deviceId);
  }

  list(): DeviceTelemetryEntry[] {
    return [...this.#entries.values()].sort((a, b) => (a.deviceId < b.deviceId ? -1 : 1));
  }

  /** Invalid reports dropped since start. */
  get invalid(): number {
    return this.#invalid;
  }
}
