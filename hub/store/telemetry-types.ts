import type { DriftBaseline } from '../../shared/index.js';
import type { DriftSettings, DriftSums, DriftVerdict } from '../drift/window.js';
import type { DeviceTelemetryEntry } from '../telemetry/device-book.js';

export type { DeviceTelemetryEntry, DeviceTelemetryPoint } from '../telemetry/device-book.js';

/** One point of a model version's drift history. */
export interface DriftHistoryPoint {
  at: number;
  psi: number | null;
  ks: number | null;
  rows: number;
}

/** A raised drift alert. */
export interface DriftAlert {
  /** 1, 2, … in the order alerts were raised, over the whole store (never reused). */
  id: number;
  model: string;
  version: string;
  at: number;
  psi: number | null;
  ks: number | null;
  rows: number;
  /** When the drift fell back under the thresholds; null while it lasts. */
  clearedAt: number | null;
}

/** What the store holds of a model version's drift window. */
export interface DriftWindow {
  baseline: DriftBaseline | undefined;
  /** The summaries of the buckets that overlap the window, added together. */
  sums: DriftSums;
  /** Devices whose latest summary of this version is in the window. */
  devices: number;
  /** Oldest first. */
  history: DriftHistoryPoint[];
}

/** One evaluation of a model version's drift, stored (history point, alert raised or cleared). */
export interface DriftEvaluation {
  model: string;
  version: string;
  verdict: DriftVerdict;
  /** The history after this evaluation's point, oldest first. */
  history: DriftHistoryPoint[];
  raised?: DriftAlert;
  cleared?: DriftAlert;
}

/** What one pass of {@link TelemetryStore.foldTelemetry} did. */
export interface TelemetryFoldResult {
  /** `telemetry.device` reports folded into the devices' entries. */
  devices: number;
  /** `telemetry.drift` events folded into the drift buckets. */
  drift: number;
  /** Events dropped as invalid, with the problems their schema found. */
  invalid: Array<{ deviceId: string; kind: 'device' | 'drift'; problems: string[] }>;
  /** Model versions with new summaries, evaluated at the end of the pass. */
  evaluations: DriftEvaluation[];
  /** True when the pass stopped at its limit: more is waiting. */
  more: boolean;
}

/** Options of one fold pass. */
export interface TelemetryFoldOptions {
  /** Most events read in this pass. */
  limit: number;
  drift: DriftSettings;
  /** Hub clock, ms: the end of the drift window the evaluations use. */
  now: number;
}

/**
 * Device telemetry and drift, derived from the stored telemetry events (`events`, lane
 * `telemetry`) by a fold every replica may run: the events are stored exactly once by
 * whichever replica received them, and the fold reads them past a cursor per (device, epoch)
 * under one lock, so each is folded once, whoever folds (docs/storage.md).
 */
export interface TelemetryStore {
  /**
   * Folds the `telemetry.device` and `telemetry.drift` events stored since the last pass (at
   * most `limit`) in one transaction: each device's latest report and history, the drift
   * summaries into time buckets, then one evaluation per model version that got summaries
   * (history point, alert raised or cleared). Replicas folding at once run one after the
   * other; each event is folded once.
   */
  foldTelemetry(options: TelemetryFoldOptions): Promise<TelemetryFoldResult>;
  /** A device's latest report and history; undefined before its first report. */
  getDeviceTelemetry(deviceId: string): Promise<DeviceTelemetryEntry | undefined>;
  /** The latest report of every device that sent one, by device id. */
  listDeviceTelemetry(): Promise<Array<Omit<DeviceTelemetryEntry, 'history'>>>;
  /** Devices with a report, and invalid events dropped by the fold so far, by kind. */
  telemetryCounts(): Promise<{ devices: number; invalid: { device: number; drift: number } }>;
  /** Stores (replacing) the baseline of its model version. */
  putDriftBaseline(baseline: DriftBaseline): Promise<void>;
  getDriftBaseline(model: string, version: string): Promise<DriftBaseline | undefined>;
  listDriftBaselines(): Promise<DriftBaseline[]>;
  /** Model versions with a baseline or summaries, by model then version. */
  listDriftModels(): Promise<Array<{ model: string; version: string }>>;
  /** The drift window of a model version: buckets ending after `since`, devices seen since. */
  driftWindow(model: string, version: string, since: number): Promise<DriftWindow>;
  /**
   * Evaluates a model version now (after a new baseline): stores a history point and raises
   * or clears its alert, under the fold's lock.
   */
  evaluateDrift(
    model: string,
    version: string,
    settings: DriftSettings,
    now: number,
  ): Promise<DriftEvaluation>;
  /** Alerts, newest first: every open one and the newest closed ones. */
  listDriftAlerts(): Promise<DriftAlert[]>;
  /** Alerts open now, and raised ever (the highest alert id). */
  driftAlertCounts(): Promise<{ open: number; raised: number }>;
}
