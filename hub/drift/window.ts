import type { DriftBaseline, DriftSummary } from '../../shared/index.js';
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

/**
 * Drift summaries of one model version added together (one time bucket, or a whole window).
 * Feature histograms add up only at the same length (a summary binned before the device had
 * the baseline's edges, or with older edges, must not mix with the others), so each feature
 * keeps its sums per histogram length; classes add up padded to the longest.
 */
export interface DriftSums {
  /** Inferences summarised. */
  rows: number;
  /** Per feature index: the summed counts, keyed by the histogram's length. */
  features: Array<Record<string, number[]>>;
  /** Summed predicted-class counts (index = class). */
  classes: number[];
}

/** Sums of nothing. */
export function emptySums(): DriftSums {
  return { rows: 0, features: [], classes: [] };
}

function addInto(target: number[], counts: readonly number[]): void {
  for (let i = 0; i < counts.length; i++) target[i] = (target[i] ?? 0) + (counts[i] as number);
}

/** Adds one device summary into `sums` (in place). */
export function addSummary(
  sums: DriftSums,
  summary: Pick<DriftSummary, 'rows' | 'features' | 'classes'>,
): void {
  sums.rows += summary.rows;
  summary.features.forEach((counts, i) => {
    const byLength = sums.features[i] ?? {};
    sums.features[i] = byLength;
    const key = String(counts.length);
    const target = byLength[key] ?? new Array<number>(counts.length).fill(0);
    byLength[key] = target;
    addInto(target, counts);
  });
  addInto(sums.classes, summary.classes);
}

/** Adds `from` into `into` (in place). */
export function mergeSums(into: DriftSums, from: DriftSums): void {
  into.rows += from.rows;
  from.features.forEach((byLength, i) => {
    const target = into.features[i] ?? {};
    into.features[i] = target;
    for (const [key, counts] of Object.entries(byLength ?? {})) {
      const sum = target[key] ?? new Array<number>(counts.length).fill(0);
      target[key] = sum;
      addInto(sum, counts);
    }
  });
  addInto(into.classes, from.classes);
}

/** Width of a drift time bucket for a window: 1/60 of it (a minute of the default hour). */
export function driftBucketMs(windowMs: number): number {
  return Math.max(1, Math.floor(windowMs / 60));
}

/** What a window of summaries says about a model version against its baseline. */
export interface DriftVerdict {
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
}

function padTo(counts: readonly number[], width: number): number[] {
  return counts.length >= width
    ? [...counts]
    : [...counts, ...new Array<number>(width - counts.length).fill(0)];
}

function hasCounts(counts: readonly number[]): boolean {
  return counts.some((c) => c > 0);
}

/**
 * Compares the summed window with the baseline: PSI per feature and for the predicted class,
 * KS per feature; drifting when PSI or KS reaches its threshold with at least `minRows` rows.
 * Each histogram is judged only once it holds `minRows` counts of its own: rows summarised
 * before the device had the baseline's edges count in `rows` but in no feature.
 */
export function judgeDrift(
  baseline: DriftBaseline | undefined,
  window: DriftSums,
  devices: number,
  settings: DriftSettings,
): DriftVerdict {
  const rows = window.rows;
  const features: DriftVerdict['features'] = [];
  let output: DriftVerdict['output'] = null;
  if (baseline && rows > 0) {
    const enough = (counts: readonly number[] | undefined) =>
      counts !== undefined && counts.reduce((n, c) => n + c, 0) >= settings.minRows;
    baseline.features.forEach((f, i) => {
      const actual = window.features[i]?.[String(f.counts.length)];
      if (actual === undefined || !hasCounts(actual) || !enough(actual) || !hasCounts(f.counts)) return;
      features.push({ psi: psi(f.counts, actual), ks: ksStatistic(f.counts, actual) });
    });
    // A class the baseline never saw counts in a bin of its own (the baseline's is empty).
    const width = Math.max(baseline.classes.length, window.classes.length);
    const classes = padTo(window.classes, width);
    if (width > 0 && hasCounts(classes) && enough(classes) && hasCounts(baseline.classes))
      output = { psi: psi(padTo(baseline.classes, width), classes) };
  }
  const psis = [...features.map((f) => f.psi), ...(output ? [output.psi] : [])];
  const maxPsi = psis.length ? Math.max(...psis) : null;
  const maxKs = features.length ? Math.max(...features.map((f) => f.ks)) : null;
  const drifting =
    rows >= settings.minRows && ((maxPsi ?? 0) >= settings.psiAlert || (maxKs ?? 0) >= settings.ksAlert);
  return {
    hasBaseline: baseline !== undefined,
    rows,
    devices,
    psi: maxPsi,
    ks: maxKs,
    features,
    output,
    drifting,
  };
}

/** What an evaluation does to the alert of a model version. */
export type AlertChange = 'raise' | 'clear' | 'none';

/**
 * An alert is raised when the version drifts and none is open; the open one clears once both
 * PSI and KS fell back under their thresholds with at least `minRows` rows in the window.
 */
export function alertChange(verdict: DriftVerdict, open: boolean, settings: DriftSettings): AlertChange {
  if (verdict.drifting && !open) return 'raise';
  if (!verdict.drifting && open && verdict.rows >= settings.minRows) return 'clear';
  return 'none';
}

/** PSI/KS points kept per model version for charts. */
export const DRIFT_HISTORY_POINTS = 240;
/** Alerts kept (open ones are always kept). */
export const DRIFT_MAX_ALERTS = 500;
