import {
  addCounters,
  emptyCounters,
  type MetricCounters,
  type ModelRole,
  type RolloutState,
} from '../../shared/index.js';

/**
 * Attribution of a device's model report to a rollout, the rule every store backend applies
 * when it folds `telemetry.model` events into counters: a report belongs to the newest
 * rollout of its model that is still live (running or paused) and has the device assigned
 * and not rolled back; the device's first report that matches its assignment (same version
 * and role) marks it as reported, which the rollout's stage gates wait for.
 */

/** States of a rollout whose devices' reports are attributed to it. */
export const ATTRIBUTING_STATES: readonly RolloutState[] = ['running', 'paused'];

/** The rollout a report is attributed to, as the store found it. */
export interface ReportOwner {
  rolloutId: string;
  /** The version and role the device was assigned. */
  version: string;
  role: string;
  /** When the device first reported its assignment; null before. */
  reportedAt: number | null;
}

/** One model's counters in a `telemetry.model` report. */
export type ModelReport = { model: string; version: string; role: ModelRole } & Partial<MetricCounters>;

/** Counters of one (rollout, device, model, version, role) with the window they cover. */
export interface CounterTotals {
  counters: MetricCounters;
  /** Device wall clock of the first and last report windows, ms. */
  firstAt: number;
  lastAt: number;
}

/** The counters row key's rollout: the owner's id, or `''` for a report of no rollout. */
export function attributedRollout(owner: ReportOwner | undefined): string {
  return owner?.rolloutId ?? '';
}

/** True when this report is the owner's device's first report of its assignment. */
export function isFirstReport(owner: ReportOwner | undefined, report: ModelReport): owner is ReportOwner {
  return (
    owner !== undefined &&
    owner.reportedAt === null &&
    owner.version === report.version &&
    owner.role === report.role
  );
}

/** `previous` with one report window `[from, to]` added. */
export function addReport(
  previous: CounterTotals | undefined,
  report: ModelReport,
  from: number,
  to: number,
): CounterTotals {
  const counters = previous === undefined ? emptyCounters() : previous.counters;
  addCounters(counters, report);
  return {
    counters,
    firstAt: previous === undefined ? from : Math.min(previous.firstAt, from),
    lastAt: previous === undefined ? to : Math.max(previous.lastAt, to),
  };
}
