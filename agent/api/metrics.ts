import type { FastifyInstance } from 'fastify';
import { Counter, Gauge, Registry } from 'prom-client';
import type { AgentStatus } from '../types.js';
import { type InferenceSeries, InferenceSeriesTable } from './inference-series.js';

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

/**
 * The agent's Prometheus metrics, in a registry of its own (several agents
 * may share a process): outbox depth/bytes and losses per lane, inference requests, errors
 * and latency by model/version/engine/role, result-cache hits and misses, link state. All
 * labels are bounded by what one device runs (lanes, its models); no device id label —
 * Prometheus adds the scrape target's own labels.
 */
export class AgentMetrics {
  readonly registry = new Registry();
  /** Inference requests, errors and latency: preallocated counters per label set. */
  readonly #inferences: InferenceSeriesTable;
  /** The series of the previous call (most calls repeat it: no key to build). */
  #last: InferenceSeries | undefined;

  /** @param status the agent's status, read at scrape time; @param engineOf active engine of a model. */
  constructor(
    status: () => AgentStatus,
    private readonly engineOf: (model: string) => string,
  ) {
    const registers = [this.registry];
    this.#inferences = new InferenceSeriesTable(
      this.registry,
      {
        requests: 'outpost_agent_inference_requests_total',
        errors: 'outpost_agent_inference_errors_total',
        latency: 'outpost_agent_inference_duration_seconds',
      },
      {
        requests: 'Inferences run (answered or failed), by model, version, engine and role (active, shadow).',
        errors: 'Inferences that failed, by model, version, engine and role.',
        latency: 'Inference wall time, seconds (cache hits included), by model, version, engine and role.',
      },
      INFERENCE_BUCKETS_S,
    );
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

  /** Counts one inference (wired to the runtime's `onInfer` observer): a few additions. */
  recordInference(o: ObservedInference): void {
    const engine = o.engine ?? this.engineOf(o.model);
    let series = this.#last;
    if (
      series === undefined ||
      series.labels.model !== o.model ||
      series.labels.version !== o.version ||
      series.labels.engine !== engine ||
      series.labels.role !== o.role
    ) {
      series = this.#inferences.series(o.model, o.version, engine, o.role);
      this.#last = series;
    }
    this.#inferences.record(series, o.latencyMs / 1000, o.outputs === undefined);
  }

  /** `GET /metrics` on the local API (Prometheus text format). */
  register(app: FastifyInstance): void {
    app.get('/metrics', async (_request, reply) =>
      reply.header('content-type', this.registry.contentType).send(await this.registry.metrics()),
    );
  }
}
