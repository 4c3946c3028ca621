import type { FastifyInstance } from 'fastify';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { AgentStatus } from '../types.js';

/** Inference latency buckets, seconds (0.5 ms … 10 s). */
export const INFERENCE_BUCKETS_S = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10,
];

/** One inference as the runtime observes it (see `InferenceObservation`). */
export interface ObservedInference {
  model: string;
  version: string;
  /** The engine that ran it; the model's active engine when absent. */
  engine?: string;
  role: string;
  latencyMs: number;
  /** Undefined when it failed. */
  outputs: unknown;
}

/** One label set's bound inference series. */
interface Series {
  model: string;
  version: string;
  engine: string;
  role: string;
  requests: { inc(): void };
  errors: { inc(): void };
  latency: { observe(v: number): void };
}

/**
 * The agent's Prometheus metrics, in a registry of its own (several agents
 * may share a process): outbox depth/bytes and losses per lane, inference requests, errors
 * and latency by model/version/engine/role, result-cache hits and misses, link state. All
 * labels are bounded by what one device runs (lanes, its models); no device id label —
 * Prometheus adds the scrape target's own labels.
 */
export class AgentMetrics {
  readonly registry = new Registry();
  readonly #requests: Counter<'model' | 'version' | 'engine' | 'role'>;
  readonly #errors: Counter<'model' | 'version' | 'engine' | 'role'>;
  readonly #latency: Histogram<'model' | 'version' | 'engine' | 'role'>;
  /** Per label set, its bound series: the label hashing is paid once, not per inference. */
  readonly #series = new Map<string, Series>();
  /** The series of the previous call (most calls repeat it: no key to build). */
  #last: Series | undefined;

  /** @param status the agent's status, read at scrape time; @param engineOf active engine of a model. */
  constructor(
    status: () => AgentStatus,
    private readonly engineOf: (model: string) => string,
  ) {
    const registers = [this.registry];
    const labelNames = ['model', 'version', 'engine', 'role'] as const;
    this.#requests = new Counter({
      name: 'outpost_agent_inference_requests_total',
      help: 'Inferences run (answered or failed), by model, version, engine and role (active, shadow).',
      labelNames,
      registers,
    });
    this.#errors = new Counter({
      name: 'outpost_agent_inference_errors_total',
      help: 'Inferences that failed, by model, version, engine and role.',
      labelNames,
      registers,
    });
    this.#latency = new Histogram({
      name: 'outpost_agent_inference_duration_seconds',
      help: 'Inference wall time, seconds (cache hits included), by model, version, engine and role.',
      labelNames,
      buckets: INFERENCE_BUCKETS_S,
      registers,
    });
    new Gauge({
      name: 'outpost_agent_outbox_events',
      help: 'Events queued in the outbox, waiting for the hub ack, by lane.',
      labelNames: ['lane'],
      registers,
      collect() {
        for (const [lane, c] of Object.entries(status().outbox)) this.set({ lane }, c.pending);
      },
    });
    new Gauge({
      name: 'outpost_agent_outbox_bytes',
      help: 'Bytes queued in the outbox, by lane.',
      labelNames: ['lane'],
      registers,
      collect() {
        for (const [lane, c] of Object.entries(status().outbox)) this.set({ lane }, c.pendingBytes);
      },
    });
    new Counter({
      name: 'outpost_agent_outbox_enqueued_total',
      help: 'Events ever enqueued, by lane.',
      labelNames: ['lane'],
      registers,
      collect() {
        this.reset();
        for (const [lane, c] of Object.entries(status().outbox)) this.inc({ lane }, c.enqueued);
      },
    });
    new Counter({
      name: 'outpost_agent_outbox_lost_total',
      help: 'Events lost for good (loss ledger), by lane and reason (quota, ttl).',
      labelNames: ['lane', 'reason'],
      registers,
      collect() {
        this.reset();
        for (const [lane, l] of Object.entries(status().ledger)) {
          this.inc({ lane, reason: 'quota' }, l.quota.count);
          this.inc({ lane, reason: 'ttl' }, l.ttl.count);
        }
      },
    });
    new Gauge({
      name: 'outpost_agent_outbox_unconfirmed_drops',
      help: 'Dropped events the hub has not yet confirmed, by lane.',
      labelNames: ['lane'],
      registers,
      collect() {
        for (const [lane, l] of Object.entries(status().ledger)) this.set({ lane }, l.unconfirmed);
      },
    });
    const cache = (name: string, help: string, pick: (s: AgentStatus) => number) =>
      new Counter({
        name,
        help,
        registers,
        collect() {
          this.reset();
          this.inc(pick(status()));
        },
      });
    cache(
      'outpost_agent_cache_hits_total',
      'Result-cache hits since the agent started.',
      (s) => s.inference.cache.hits,
    );
    cache(
      'outpost_agent_cache_misses_total',
      'Result-cache misses since the agent started.',
      (s) => s.inference.cache.misses,
    );
    new Gauge({
      name: 'outpost_agent_cache_bytes',
      help: 'Bytes of cached results.',
      registers,
      collect() {
        this.set(status().inference.cache.bytes);
      },
    });
    new Gauge({
      name: 'outpost_agent_link_connected',
      help: '1 while connected to the hub (online status published, subscriptions granted), else 0.',
      registers,
      collect() {
        this.set(status().link.connected ? 1 : 0);
      },
    });
    cache('outpost_agent_link_connects_total', 'Successful connections to the hub.', (s) => s.link.connects);
    cache(
      'outpost_agent_link_dead_total',
      'Dead links detected by the ping, each followed by a reconnect.',
      (s) => s.link.deadLinks,
    );
    new Gauge({
      name: 'outpost_agent_link_ping_rtt_seconds',
      help: 'Round trip of the latest application-level ping, seconds (absent before the first).',
      registers,
      collect() {
        this.reset();
        const rtt = status().link.pingRttMs;
        if (rtt !== null) this.set(rtt / 1000);
      },
    });
    new Gauge({
      name: 'outpost_agent_process_resident_memory_bytes',
      help: 'Resident set size of the agent process, bytes.',
      registers,
      collect() {
        this.set(process.memoryUsage.rss());
      },
    });
  }

  /** Counts one inference (wired to the runtime's `onInfer` observer). */
  recordInference(o: ObservedInference): void {
    const engine = o.engine ?? this.engineOf(o.model);
    const last = this.#last;
    if (
      last !== undefined &&
      last.model === o.model &&
      last.version === o.version &&
      last.engine === engine &&
      last.role === o.role
    ) {
      last.requests.inc();
      if (o.outputs === undefined) last.errors.inc();
      last.latency.observe(o.latencyMs / 1000);
      return;
    }
    const key = `${o.model}\u0000${o.version}\u0000${engine}\u0000${o.role}`;
    let series = this.#series.get(key);
    if (series === undefined) {
      const labels = { model: o.model, version: o.version, engine, role: o.role };
      series = {
        ...labels,
        requests: this.#requests.labels(labels),
        errors: this.#errors.labels(labels),
        latency: this.#latency.labels(labels),
      };
      // Bounded like the labels themselves (what one device runs); a long-lived agent that
      // cycled through many versions just binds them again.
      if (this.#series.size >= 1024) this.#series.clear();
      this.#series.set(key, series);
    }
    this.#last = series;
    series.requests.inc();
    if (o.outputs === undefined) series.errors.inc();
    series.latency.observe(o.latencyMs / 1000);
  }

  /** `GET /metrics` on the local API (Prometheus text format). */
  register(app: FastifyInstance): void {
    app.get('/metrics', async (_request, reply) =>
      reply.header('content-type', this.registry.contentType).send(await this.registry.metrics()),
    );
  }
}
