import type { AgentGateMetricName } from './agent-rollout-gates.js';
import { LATENCY_BUCKET_COUNT, LATENCY_BUCKETS_MS } from './messages/telemetry.js';

/**
 * Counters of one model version summed over a set of devices: what every
 * gate metric is computed from. The same fields as a `telemetry.model` report.
 */
export interface MetricCounters {
  requests: number;
  errors: number;
  /** Histogram counts over `LATENCY_BUCKETS_MS` plus the overflow bucket. */
  latency: number[];
  latencySumMs: number;
  confidenceSum: number;
  confidenceCount: number;
  compared: number;
  agreed: number;
  /**
   * Drift of the version against its baseline, filled in by the hub's drift
   * monitor for the `drift_psi` / `drift_ks` gates; absent while there is too little data.
   */
  driftPsi?: number;
  driftKs?: number;
}

/** Counters with nothing counted yet. */
export function emptyCounters(): MetricCounters {
  return {
    requests: 0,
    errors: 0,
    latency: new Array<number>(LATENCY_BUCKET_COUNT).fill(0),
    latencySumMs: 0,
    confidenceSum: 0,
    confidenceCount: 0,
    compared: 0,
    agreed: 0,
  };
}

/** Adds `b` into `a` (mutates and returns `a`). */
export function addCounters(a: MetricCounters, b: Partial<MetricCounters>): MetricCounters {
  a.requests += b.requests ?? 0;
  a.errors += b.errors ?? 0;
  a.latencySumMs += b.latencySumMs ?? 0;
  a.confidenceSum += b.confidenceSum ?? 0;
  a.confidenceCount += b.confidenceCount ?? 0;
  a.compared += b.compared ?? 0;
  a.agreed += b.agreed ?? 0;
  const lat = b.latency ?? [];
  for (let i = 0; i < a.latency.length; i++) a.latency[i] = (a.latency[i] ?? 0) + (lat[i] ?? 0);
  return a;
}

/**
 * Latency quantile `q` (0-1) from the histogram, ms: the upper bound of the bucket where the
 * cumulative count reaches `q` of the total (conservative: never below the true quantile).
 * `Infinity` when it falls in the overflow bucket; undefined with no requests.
 */
export function latencyQuantile(c: MetricCounters, q: number): number | undefined {
  const total = c.latency.reduce((s, n) => s + n, 0);
  if (total === 0) return undefined;
  const rank = Math.ceil(q * total);
  let seen = 0;
  for (let i = 0; i < c.latency.length; i++) {
    seen += c.latency[i] ?? 0;
    if (seen >= rank) return LATENCY_BUCKETS_MS[i] ?? Number.POSITIVE_INFINITY;
  }
  return Number.POSITIVE_INFINITY;
}

/**
 * A gate metric: a small pure function over aggregated counters; undefined means "no data
 * yet" (the gate then neither passes nor fails). `evidence` metrics say whether there is
 * enough data: a rollout waits for them and never rolls back because of them; `health`
 * metrics roll a rollout back when their gate fails.
 */
export interface GateMetric<C = MetricCounters> {
  readonly kind: 'evidence' | 'health';
  readonly unit: string;
  readonly describe: string;
  value(c: C): number | undefined;
  /** A health metric whose failure counts at once, before the evidence gates pass. */
  readonly immediate?: boolean;
}

const ratio = (num: number, den: number) => (den === 0 ? undefined : num / den);

/** Every metric a gate may name. */
export const GATE_METRICS = {
  requests: {
    kind: 'evidence',
    unit: 'count',
    describe: 'inferences answered by the version (shadow: shadow runs)',
    value: (c) => c.requests,
  },
  compared: {
    kind: 'evidence',
    unit: 'count',
    describe: 'shadow answers compared with the active answer',
    value: (c) => c.compared,
  },
  error_rate: {
    kind: 'health',
    unit: 'ratio',
    describe: 'errors / requests',
    value: (c) => ratio(c.errors, c.requests),
  },
  p50_ms: {
    kind: 'health',
    unit: 'ms',
    describe: 'median latency (histogram bucket bound)',
    value: (c) => latencyQuantile(c, 0.5),
  },
  p95_ms: {
    kind: 'health',
    unit: 'ms',
    describe: '95th percentile latency (histogram bucket bound)',
    value: (c) => latencyQuantile(c, 0.95),
  },
  p99_ms: {
    kind: 'health',
    unit: 'ms',
    describe: '99th percentile latency (histogram bucket bound)',
    value: (c) => latencyQuantile(c, 0.99),
  },
  mean_ms: {
    kind: 'health',
    unit: 'ms',
    describe: 'mean latency',
    value: (c) => ratio(c.latencySumMs, c.requests),
  },
  confidence: {
    kind: 'health',
    unit: 'ratio',
    describe: 'mean confidence of the answers',
    value: (c) => ratio(c.confidenceSum, c.confidenceCount),
  },
  agreement: {
    kind: 'health',
    unit: 'ratio',
    describe: 'shadow answers that agreed / compared',
    value: (c) => ratio(c.agreed, c.compared),
  },
  drift_psi: {
    kind: 'health',
    unit: 'psi',
    describe: 'largest PSI of the inputs or predicted classes against the baseline',
    value: (c) => c.driftPsi,
  },
  drift_ks: {
    kind: 'health',
    unit: 'ratio',
    describe: 'largest binned Kolmogorov-Smirnov statistic of the inputs against the baseline',
    value: (c) => c.driftKs,
  },
} as const satisfies Record<string, GateMetric>;

export type GateMetricName = keyof typeof GATE_METRICS;
/** A set of gate metrics: {@link GATE_METRICS} (models) or `AGENT_GATE_METRICS` (agent releases). */
// biome-ignore lint/suspicious/noExplicitAny: the counters type differs per set
export type GateMetricSet = Readonly<Record<string, GateMetric<any>>>;
export const GATE_OPERATORS = ['<=', '>=', '<', '>'] as const;
export type GateOperator = (typeof GATE_OPERATORS)[number];

/** A parsed gate, e.g. `error_rate<0.01`. */
export interface Gate {
  metric: GateMetricName | AgentGateMetricName;
  op: GateOperator;
  threshold: number;
  /** The gate as written, normalised (no spaces). */
  text: string;
}

/** Why a gate text cannot be parsed; names what is wrong. */
export class GateSyntaxError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'GateSyntaxError';
  }
}

const GATE_RE = /^([a-z][a-z0-9_]*)(<=|>=|<|>)(-?(?:\d+(?:\.\d*)?|\.\d+)(?:e[-+]?\d+)?)$/i;

/**
 * Parses `METRIC OP NUMBER` (spaces allowed), operators `< <= > >=`, metrics from
 * {@link GATE_METRICS}. Throws {@link GateSyntaxError} naming the problem: an unknown metric
 * lists the known ones.
 */
export function parseGate(text: string): Gate {
  return parseGateOf(text, GATE_METRICS);
}

/** {@link parseGate} over another metric set (an agent rollout's `AGENT_GATE_METRICS`). */
export function parseGateOf(text: string, metrics: GateMetricSet): Gate {
  const compact = text.replace(/\s+/g, '');
  const m = GATE_RE.exec(compact);
  if (m === null) {
    throw new GateSyntaxError(
      `gate "${text}" is not METRIC OP NUMBER (operators ${GATE_OPERATORS.join(' ')}), e.g. "error_rate<0.01"`,
    );
  }
  const [, name = '', op = '', num = ''] = m;
  if (!Object.hasOwn(metrics, name)) {
    throw new GateSyntaxError(
      `gate "${text}": unknown metric "${name}" (known: ${Object.keys(metrics).join(', ')})`,
    );
  }
  const threshold = Number(num);
  if (!Number.isFinite(threshold)) throw new GateSyntaxError(`gate "${text}": threshold is not finite`);
  return { metric: name as Gate['metric'], op: op as GateOperator, threshold, text: compact };
}

/** Outcome of one gate: `pass`, `fail`, or `pending` (no data yet). */
export interface GateResult {
  gate: string;
  metric: Gate['metric'];
  kind: GateMetric['kind'];
  status: 'pass' | 'fail' | 'pending';
  /** The metric's value; null with no data, or a latency beyond the last histogram bound. */
  value: number | null;
}

function holds(value: number, op: GateOperator, threshold: number): boolean {
  switch (op) {
    case '<':
      return value < threshold;
    case '<=':
      return value <= threshold;
    case '>':
      return value > threshold;
    case '>=':
      return value >= threshold;
  }
}

/** Evaluates one gate over counters (of the metric set's kind). */
export function evaluateGate<C = MetricCounters>(
  gate: Gate,
  counters: C,
  metrics: GateMetricSet = GATE_METRICS,
): GateResult {
  const metric = metrics[gate.metric] as GateMetric<C>;
  const value = metric.value(counters);
  const base = { gate: gate.text, metric: gate.metric, kind: metric.kind };
  if (value === undefined) return { ...base, status: 'pending', value: null };
  return {
    ...base,
    status: holds(value, gate.op, gate.threshold) ? 'pass' : 'fail',
    value: Number.isFinite(value) ? value : null,
  };
}

/**
 * The verdict of a set of gates: `fail` when a health gate fails once every
 * evidence gate passes (so "requests>=100" protects against judging on too little data), or at
 * once for an `immediate` metric (an agent rollout's `failed`);
 * `pass` when every gate passes; else `wait`. `failed` is the first failing health gate.
 */
export function judgeGates<C = MetricCounters>(
  gates: readonly Gate[],
  counters: C,
  metrics: GateMetricSet = GATE_METRICS,
): { verdict: 'pass' | 'fail' | 'wait'; results: GateResult[]; failed?: GateResult } {
  const results = gates.map((g) => evaluateGate(g, counters, metrics));
  const evidenceMet = results.every((r) => r.kind !== 'evidence' || r.status === 'pass');
  const failed = results.find(
    (r) =>
      r.kind === 'health' && r.status === 'fail' && (evidenceMet || metrics[r.metric]?.immediate === true),
  );
  if (failed) return { verdict: 'fail', results, failed };
  return { verdict: results.every((r) => r.status === 'pass') ? 'pass' : 'wait', results };
}
