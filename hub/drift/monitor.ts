import type { Logger } from 'pino';
import { type DriftSummary, DriftTelemetrySchema, formatIssues } from '../../shared/index.js';
import { type BaselineStore, baselineKey } from './baselines.js';
import { ksStatistic } from './ks.js';
import { psi } from './psi.js';

/** Thresholds and windows of drift detection (hub config `drift`). */
export interface DriftSettings {
  /** PSI at or above which a model version is drifting; default 0.2. */
  psiAlert: number;
  /** KS statistic at or above which it is drifting; default 0.2. */
  ksAlert: number;
  /** Fewest rows in the window before any verdict; default 200. */
  minRows: number;
  /** How far back summaries count, ms; default 1 h. */
  windowMs: number;
}

export const DEFAULT_DRIFT_SETTINGS: DriftSettings = {
  psiAlert: 0.2,
  ksAlert: 0.2,
  minRows: 200,
  windowMs: 3_600_000,
};

/** Drift of one model version right now (fleet-wide, over the window). */
export interface DriftStatus {
  model: string;
  version: string;
  hasBaseline: boolean;
  rows: number;
  devices: number;
  /** Largest PSI over the input features and the output class histogram; null without data. */
  psi: number | null;
  /** Largest KS statistic over the input features; null without data. */
  ks: number | null;
  /** Per feature with at least `minRows` counts (others are left out until they have them). */
  features: Array<{ psi: number; ks: number }>;
  output: { psi: number } | null;
  drifting: boolean;
  history: Array<{ at: number; psi: number | null; ks: number | null; rows: number }>;
}

/** A raised drift alert. */
export interface DriftAlert {
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

interface Window {
  deviceId: string;
  at: number;
  summary: DriftSummary;
}

const HISTORY_POINTS = 240;
const MAX_WINDOWS = 5000;
const MAX_ALERTS = 500;

/**
 * Drift detection on the hub: sums the devices' `telemetry.drift`
 * summaries of each model version over the last `windowMs`, compares them with the
 * version's baseline (PSI per feature and for the predicted class, KS per feature), keeps a
 * history for charts, and raises an alert (stored, logged at `warn`) when PSI or KS crosses
 * its threshold with at least `minRows` rows; the alert clears when both fall back.
 */
export class DriftMonitor {
  readonly #windows = new Map<string, Window[]>();
  readonly #history = new Map<string, DriftStatus['history']>();
  readonly #alerts: DriftAlert[] = [];
  readonly #open = new Map<string, DriftAlert>();
  #nextAlert = 1;
  #alertsRaised = 0;
  #invalid = 0;

  constructor(
    private readonly baselines: BaselineStore,
    private readonly settings: DriftSettings,
    private readonly now: () => number,
    private readonly log: Logger,
  ) {}

  /** Takes one `telemetry.drift` body from a device; false (and a warn) when invalid. */
  record(deviceId: string, body: unknown): boolean {
    const parsed = DriftTelemetrySchema.safeParse(body);
    if (!parsed.success) {
      this.#invalid++;
      this.log.warn({ deviceId, problems: formatIssues(parsed.error) }, 'invalid telemetry.drift dropped');
      return false;
    }
    const at = this.now();
    for (const summary of parsed.data.models) {
      const key = baselineKey(summary.model, summary.version);
      const list = this.#windows.get(key) ?? [];
      list.push({ deviceId, at, summary });
      if (list.length > MAX_WINDOWS) list.shift();
      this.#windows.set(key, list);
      this.#evaluate(summary.model, summary.version);
    }
    return true;
  }

  /** Re-evaluates a model version (after new data or a new baseline). */
  reevaluate(model: string, version: string): DriftStatus {
    return this.#evaluate(model, version);
  }

  #evaluate(model: string, version: string): DriftStatus {
    const key = baselineKey(model, version);
    const status = this.status(model, version);
    const history = this.#history.get(key) ?? [];
    history.push({ at: this.now(), psi: status.psi, ks: status.ks, rows: status.rows });
    if (history.length > HISTORY_POINTS) history.shift();
    this.#history.set(key, history);
    const open = this.#open.get(key);
    if (status.drifting && open === undefined) {
      const alert: DriftAlert = {
        id: this.#nextAlert++,
        model,
        version,
        at: this.now(),
        psi: status.psi,
        ks: status.ks,
        rows: status.rows,
        clearedAt: null,
      };
      this.#alerts.push(alert);
      if (this.#alerts.length > MAX_ALERTS) this.#alerts.shift();
      this.#open.set(key, alert);
      this.#alertsRaised++;
      this.log.warn(
        { model, version, psi: status.psi, ks: status.ks, rows: status.rows, thresholds: this.settings },
        `drift alert: ${model}@${version} inputs or outputs moved away from the baseline`,
      );
    } else if (!status.drifting && open !== undefined && status.rows >= this.settings.minRows) {
      open.clearedAt = this.now();
      this.#open.delete(key);
      this.log.info({ model, version, psi: status.psi, ks: status.ks }, 'drift alert cleared');
    }
    return { ...status, history: [...history] };
  }

  /** The current drift of a model version over the window (fleet-wide). */
  status(model: string, version: string): DriftStatus {
    const key = baselineKey(model, version);
    const since = this.now() - this.settings.windowMs;
    const windows = (this.#windows.get(key) ?? []).filter((w) => w.at >= since);
    const baseline = this.baselines.get(model, version);
    const rows = windows.reduce((n, w) => n + w.summary.rows, 0);
    const devices = new Set(windows.map((w) => w.deviceId)).size;
    const features: DriftStatus['features'] = [];
    let output: DriftStatus['output'] = null;
    if (baseline && rows > 0) {
      // Each histogram is judged only once it holds minRows counts of its own: rows summarised
      // before the device had the baseline's edges count in `rows` but in no feature.
      const enough = (counts: readonly number[] | undefined) =>
        counts !== undefined && counts.reduce((n, c) => n + c, 0) >= this.settings.minRows;
      baseline.features.forEach((f, i) => {
        const actual = sumColumn(windows, (s) => s.features[i], f.counts.length);
        if (!enough(actual) || !hasCounts(f.counts)) return;
        features.push({
          psi: psi(f.counts, actual as number[]),
          ks: ksStatistic(f.counts, actual as number[]),
        });
      });
      // A class the baseline never saw counts in a bin of its own (the baseline's is empty).
      const width = Math.max(baseline.classes.length, ...windows.map((w) => w.summary.classes.length));
      const classes = sumColumn(windows, (s) => padTo(s.classes, width), width);
      if (classes !== undefined && enough(classes) && hasCounts(baseline.classes))
        output = { psi: psi(padTo(baseline.classes, width), classes) };
    }
    const psis = [...features.map((f) => f.psi), ...(output ? [output.psi] : [])];
    const maxPsi = psis.length ? Math.max(...psis) : null;
    const maxKs = features.length ? Math.max(...features.map((f) => f.ks)) : null;
    const drifting =
      rows >= this.settings.minRows &&
      ((maxPsi ?? 0) >= this.settings.psiAlert || (maxKs ?? 0) >= this.settings.ksAlert);
    return {
      model,
      version,
      hasBaseline: baseline !== undefined,
      rows,
      devices,
      psi: maxPsi,
      ks: maxKs,
      features,
      output,
      drifting,
      history: [...(this.#history.get(key) ?? [])],
    };
  }

  /**
   * Drift of a model version for rollout gates (`drift_psi`, `drift_ks`): undefined (the gate
   * waits) without a baseline or with fewer than `minRows` rows in the window.
   */
  gateValues(model: string, version: string): { psi: number | null; ks: number | null } | undefined {
    const s = this.status(model, version);
    if (!s.hasBaseline || s.rows < this.settings.minRows) return undefined;
    return { psi: s.psi, ks: s.ks };
  }

  /** Every model version with summaries or a baseline. */
  list(): DriftStatus[] {
    const keys = new Map<string, [string, string]>();
    for (const b of this.baselines.list()) keys.set(baselineKey(b.model, b.version), [b.model, b.version]);
    for (const list of this.#windows.values()) {
      const s = list[0]?.summary;
      if (s) keys.set(baselineKey(s.model, s.version), [s.model, s.version]);
    }
    return [...keys.values()].map(([m, v]) => this.status(m, v)).sort((a, b) => (a.model < b.model ? -1 : 1));
  }

  /** Alerts, newest first (open ones and the last {@link MAX_ALERTS}). */
  alerts(): DriftAlert[] {
    return [...this.#alerts].reverse();
  }

  /** Counters for metrics: alerts raised since start, open now, invalid summaries dropped. */
  counters(): { raised: number; open: number; invalid: number } {
    return { raised: this.#alertsRaised, open: this.#open.size, invalid: this.#invalid };
  }
}

function padTo(counts: readonly number[], width: number): number[] {
  return counts.length >= width
    ? [...counts]
    : [...counts, ...new Array<number>(width - counts.length).fill(0)];
}

function hasCounts(counts: readonly number[]): boolean {
  return counts.some((c) => c > 0);
}

/** Sums one histogram over the windows; undefined when none has it at `length` bins with counts. */
function sumColumn(
  windows: readonly Window[],
  pick: (s: DriftSummary) => readonly number[] | undefined,
  length: number,
): number[] | undefined {
  const sum = new Array<number>(length).fill(0);
  let any = false;
  for (const w of windows) {
    const counts = pick(w.summary);
    if (counts === undefined || counts.length !== length) continue;
    for (let i = 0; i < length; i++) sum[i] = (sum[i] as number) + (counts[i] as number);
    any = true;
  }
  return any && hasCounts(sum) ? sum : undefined;
}
