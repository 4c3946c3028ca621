import type { TensorMap } from '../../inference/index.js';
import {
  LATENCY_BUCKET_COUNT,
  latencyBucket,
  type ModelMetrics as ModelMetricsReport,
  type ModelRole,
  type ModelTelemetry,
} from '../../shared/index.js';
import { accumulateConfidence } from './confidence.js';

/** One (model, version, role)'s counters in the current window. */
interface Row {
  model: string;
  version: string;
  role: ModelRole;
  requests: number;
  errors: number;
  latency: number[];
  latencySumMs: number;
  confidence: { sum: number; count: number };
  compared: number;
  agreed: number;
}

/** One answered or failed inference, as the runtime observes it. */
export interface InferenceObservation {
  model: string;
  version: string;
  /** The engine that ran it, when the runtime knows it. */
  engine?: string;
  role: ModelRole;
  /** Wall time of the call, ms. */
  latencyMs: number;
  /** The outputs when it succeeded; undefined when it failed. */
  outputs: TensorMap | undefined;
}

/**
 * Per-model metrics of the agent, in memory: for every (model, version,
 * role) the requests, errors, latency histogram (`LATENCY_BUCKETS_MS`), confidence sum and
 * count (see `confidence.ts`) and shadow comparisons. Recording is a map lookup and a few
 * additions (plus a scan of at most 32 rows of the class output for confidence).
 * {@link drain} hands the window's deltas out and starts a new window.
 */
export class ModelMetrics {
  #rows = new Map<string, Row>();
  /** The row of the previous call: traffic repeats the same model, so most calls skip the key. */
  #last: Row | undefined;
  #from: number;
  readonly #now: () => number;

  /** @param now wall clock, ms (default `Date.now`). */
  constructor(now: () => number = Date.now) {
    this.#now = now;
    this.#from = now();
  }

  #row(model: string, version: string, role: ModelRole): Row {
    const last = this.#last;
    if (last !== undefined && last.model === model && last.version === version && last.role === role)
      return last;
    const key = `${role}\u0000${model}\u0000${version}`;
    let row = this.#rows.get(key);
    if (row === undefined) {
      row = {
        model,
        version,
        role,
        requests: 0,
        errors: 0,
        latency: new Array<number>(LATENCY_BUCKET_COUNT).fill(0),
        latencySumMs: 0,
        confidence: { sum: 0, count: 0 },
        compared: 0,
        agreed: 0,
      };
      this.#rows.set(key, row);
    }
    this.#last = row;
    return row;
  }

  /** Counts one inference (answered when `outputs` is given, failed otherwise). */
  record(o: InferenceObservation): void {
    const row = this.#row(o.model, o.version, o.role);
    const turn = row.requests++;
    const ms = Math.max(o.latencyMs, 0);
    const bucket = latencyBucket(ms);
    row.latency[bucket] = (row.latency[bucket] as number) + 1;
    row.latencySumMs += ms;
    if (o.outputs === undefined) row.errors++;
    else accumulateConfidence(o.outputs, row.confidence, turn);
  }

  /** Counts one shadow answer compared with the active one. */
  recordComparison(model: string, shadowVersion: string, agreed: boolean): void {
    const row = this.#row(model, shadowVersion, 'shadow');
    row.compared++;
    if (agreed) row.agreed++;
  }

  /** True when nothing was counted since the last drain. */
  get empty(): boolean {
    return this.#rows.size === 0;
  }

  /**
   * The window's deltas as a `telemetry.model` body (undefined when nothing was counted),
   * and a fresh window. The caller gives the body back with {@link restore} when it could
   * not be queued, so nothing is lost.
   */
  drain(): ModelTelemetry | undefined {
    const to = this.#now();
    if (this.#rows.size === 0) {
      this.#from = to;
      return undefined;
    }
    const models: ModelMetricsReport[] = [...this.#rows.values()].map((r) => ({
      model: r.model,
      version: r.version,
      role: r.role,
      requests: r.requests,
      errors: r.errors,
      latency: r.latency,
      latencySumMs: r.latencySumMs,
      confidenceSum: r.confidence.sum,
      confidenceCount: r.confidence.count,
      ...(r.role === 'shadow' ? { compared: r.compared, agreed: r.agreed } : {}),
    }));
    const body = { from: this.#from, to: Math.max(to, this.#from), models };
    this.#rows = new Map();
    this.#last = undefined;
    this.#from = to;
    return body;
  }

  /** Adds a drained body back (its queueing failed); the next drain reports it again. */
  restore(body: ModelTelemetry): void {
    this.#from = Math.min(this.#from, body.from);
    for (const m of body.models) {
      const row = this.#row(m.model, m.version, m.role);
      row.requests += m.requests;
      row.errors += m.errors;
      for (let i = 0; i < row.latency.length; i++)
        row.latency[i] = (row.latency[i] ?? 0) + (m.latency[i] ?? 0);
      row.latencySumMs += m.latencySumMs;
      row.confidence.sum += m.confidenceSum;
      row.confidence.count += m.confidenceCount;
      row.compared += m.compared ?? 0;
      row.agreed += m.agreed ?? 0;
    }
  }
}
