import type { Metric, MetricValue, Registry } from 'prom-client';

/** The labels of one inference series. */
export interface SeriesLabels {
  model: string;
  version: string;
  engine: string;
  role: string;
}

/** One label set's counters: plain numbers, allocated once when the label set first appears. */
export interface InferenceSeries {
  readonly labels: Readonly<SeriesLabels>;
  requests: number;
  errors: number;
  /** Observations per latency bucket (not cumulative); the last one is `+Inf`. */
  readonly buckets: Float64Array;
  /** Sum of the observed latencies, seconds. */
  sum: number;
}

/**
 * A metric read from the series table at scrape time, in the shape prom-client's
 * `Registry` formats (`get()`; `reset()` for `registry.resetMetrics()`).
 */
class TableMetric {
  readonly aggregator = 'sum' as const;
  constructor(
    readonly name: string,
    readonly help: string,
    readonly type: 'counter' | 'histogram',
    private readonly values: () => MetricValue<string>[],
    readonly reset: () => void,
  ) {}

  async get() {
    return {
      name: this.name,
      help: this.help,
      type: this.type,
      values: this.values(),
      aggregator: this.aggregator,
    };
  }
}

/**
 * The inference request, error and latency series of the agent's `/metrics`, kept as
 * preallocated counters: recording one inference is a few additions on an object found
 * once per label set, with no label hashing or validation per call (prom-client's
 * `Counter.inc` / `Histogram.observe` hash the label set on every call, the costliest part
 * of a call's bookkeeping in CPU profiles). The exported text is what prom-client's own
 * `Counter` and `Histogram` would print for the same observations.
 */
export class InferenceSeriesTable {
  readonly #bounds: readonly number[];
  readonly #series = new Map<string, InferenceSeries>();

  constructor(
    registry: Registry,
    names: { requests: string; errors: string; latency: string },
    help: { requests: string; errors: string; latency: string },
    bounds: readonly number[],
  ) {
    this.#bounds = bounds;
    const reset = () => this.#series.clear();
    const register = (m: TableMetric) => registry.registerMetric(m as unknown as Metric<string>);
    register(
      new TableMetric(names.requests, help.requests, 'counter', () => this.#counterValues('requests'), reset),
    );
    register(
      new TableMetric(names.errors, help.errors, 'counter', () => this.#counterValues('errors'), reset),
    );
    register(
      new TableMetric(
        names.latency,
        help.latency,
        'histogram',
        () => this.#histogramValues(names.latency),
        reset,
      ),
    );
  }

  /** The series of a label set, created (zeroed) on first use. */
  series(model: string, version: string, engine: string, role: string): InferenceSeries {
    const key = `${model}\u0000${version}\u0000${engine}\u0000${role}`;
    let s = this.#series.get(key);
    if (s === undefined) {
      s = {
        labels: { model, version, engine, role },
        requests: 0,
        errors: 0,
        buckets: new Float64Array(this.#bounds.length + 1),
        sum: 0,
      };
      this.#series.set(key, s);
    }
    return s;
  }

  /** Counts one inference on a series: `seconds` of wall time, failed or not. */
  record(s: InferenceSeries, seconds: number, failed: boolean): void {
    s.requests++;
    if (failed) s.errors++;
    const bounds = this.#bounds;
    let i = 0;
    while (i < bounds.length && !(seconds <= (bounds[i] as number))) i++;
    s.buckets[i] = (s.buckets[i] as number) + 1;
    s.sum += seconds;
  }

  #counterValues(field: 'requests' | 'errors'): MetricValue<string>[] {
    const out: MetricValue<string>[] = [];
    for (const s of this.#series.values()) {
      // As prom-client: a series appears once it was incremented (errors: once one failed).
      if (s[field] > 0) out.push({ labels: { ...s.labels }, value: s[field] });
    }
    return out;
  }

  #histogramValues(name: string): MetricValue<string>[] {
    const out: Array<MetricValue<string> & { metricName: string }> = [];
    for (const s of this.#series.values()) {
      if (s.requests === 0) continue;
      let acc = 0;
      for (let i = 0; i < this.#bounds.length; i++) {
        acc += s.buckets[i] as number;
        out.push({
          labels: { le: this.#bounds[i] as number, ...s.labels },
          value: acc,
          metricName: `${name}_bucket`,
        });
      }
      out.push(
        { labels: { le: '+Inf', ...s.labels }, value: s.requests, metricName: `${name}_bucket` },
        { labels: { ...s.labels }, value: s.sum, metricName: `${name}_sum` },
        { labels: { ...s.labels }, value: s.requests, metricName: `${name}_count` },
      );
    }
    return out;
  }
}
