import type { Logger } from 'pino';
import type {
  DriftAlert,
  DriftEvaluation,
  DriftHistoryPoint,
  TelemetryStore,
} from '../store/telemetry-types.js';
import { type DriftSettings, type DriftVerdict, judgeDrift } from './window.js';

export type { DriftAlert, DriftHistoryPoint } from '../store/telemetry-types.js';
export { DEFAULT_DRIFT_SETTINGS, type DriftSettings } from './window.js';

/** Drift of one model version right now (fleet-wide, over the window). */
export interface DriftStatus extends DriftVerdict {
  model: string;
  version: string;
  history: DriftHistoryPoint[];
}

/**
 * Drift detection on the hub, read from the store: the devices' `telemetry.drift`
 * summaries of each model version, summed per time bucket by the telemetry fold
 * (`hub/telemetry/fold-loop.ts`), are compared over the last `windowMs` with the version's
 * baseline (PSI per feature and for the predicted class, KS per feature,
 * `hub/drift/window.ts`). The fold evaluates every version that got summaries: it keeps a
 * history for charts and raises an alert (stored, logged at `warn` by the replica that
 * folded) when PSI or KS crosses its threshold with at least `minRows` rows; the alert clears
 * when both fall back. Every replica, and a restarted hub, reads the same.
 */
export class DriftMonitor {
  constructor(
    private readonly store: TelemetryStore,
    private readonly settings: DriftSettings,
    private readonly now: () => number,
    private readonly log: Logger,
  ) {}

  /** Re-evaluates a model version now (after a new baseline), storing what it decides. */
  async reevaluate(model: string, version: string): Promise<DriftStatus> {
    const evaluation = await this.store.evaluateDrift(model, version, this.settings, this.now());
    this.report(evaluation);
    return { model, version, ...evaluation.verdict, history: evaluation.history };
  }

  /** Logs what an evaluation decided: a raised alert at `warn`, a cleared one at `info`. */
  report(evaluation: DriftEvaluation): void {
    const { model, version, raised, cleared } = evaluation;
    if (raised)
      this.log.warn(
        { model, version, psi: raised.psi, ks: raised.ks, rows: raised.rows, thresholds: this.settings },
        `drift alert: ${model}@${version} inputs or outputs moved away from the baseline`,
      );
    if (cleared) this.log.info({ model, version, psi: cleared.psi, ks: cleared.ks }, 'drift alert cleared');
  }

  /** The current drift of a model version over the window (fleet-wide). */
  async status(model: string, version: string): Promise<DriftStatus> {
    const window = await this.store.driftWindow(model, version, this.now() - this.settings.windowMs);
    const verdict = judgeDrift(window.baseline, window.sums, window.devices, this.settings);
    return { model, version, ...verdict, history: window.history };
  }

  /**
   * Drift of a model version for rollout gates (`drift_psi`, `drift_ks`): undefined (the gate
   * waits) without a baseline or with fewer than `minRows` rows in the window.
   */
  async gateValues(
    model: string,
    version: string,
  ): Promise<{ psi: number | null; ks: number | null } | undefined> {
    const s = await this.status(model, version);
    if (!s.hasBaseline || s.rows < this.settings.minRows) return undefined;
    return { psi: s.psi, ks: s.ks };
  }

  /** Every model version with summaries or a baseline, by model then version. */
  async list(): Promise<DriftStatus[]> {
    const versions = await this.store.listDriftModels();
    return Promise.all(versions.map((v) => this.status(v.model, v.version)));
  }

  /** Alerts, newest first (every open one and the newest closed ones). */
  alerts(): Promise<DriftAlert[]> {
    return this.store.listDriftAlerts();
  }

  /** Counters for metrics: alerts raised ever, open now, invalid summaries dropped ever. */
  async counters(): Promise<{ raised: number; open: number; invalid: number }> {
    const [alerts, counts] = await Promise.all([this.store.driftAlertCounts(), this.store.telemetryCounts()]);
    return { raised: alerts.raised, open: alerts.open, invalid: counts.invalid.drift };
  }
}
