import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { HubBus } from '../bus/types.js';
import type { HubStats } from '../stats.js';
import type { HubStore } from '../store/types.js';

/** What the hub's metrics read at scrape time. */
export interface HubMetricsDeps {
  store: HubStore;
  bus: HubBus;
  /** The hub's in-memory counters since start. */
  stats: () => HubStats;
  /** Hub wall clock, ms. */
  now: () => number;
}

/** HTTP request duration buckets, seconds (1 ms … 10 s). */
export const HTTP_BUCKETS_S = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10];

/**
 * The hub's Prometheus metrics, in a registry of its own (no global default
 * registry: several hubs may share a process, e.g. in tests). Names follow Prometheus
 * conventions (`outpost_hub_` prefix, `_total` counters, `_seconds`, `_bytes`).
 *
 * Labels are bounded: `reason` (rejection reasons are a fixed set of codes), `route` (the
 * matched route pattern, never the raw URL; `unmatched` for 404s), `method`, `status`,
 * `state`. There are **no per-device series** on the hub: a fleet of 10,000 devices would
 * mean 10,000 series per metric; per-device detail is in the JSON API and the dashboard.
 */
export class HubMetrics {
  readonly registry = new Registry();
  readonly #http: Counter<'method' | 'route' | 'status'>;
  readonly #httpSeconds: Histogram<'method' | 'route'>;

  constructor(deps: HubMetricsDeps) {
    const registers = [this.registry];
    this.#http = new Counter({
      name: 'outpost_hub_http_requests_total',
      help: 'HTTP requests answered, by method, route pattern and status code.',
      labelNames: ['method', 'route', 'status'],
      registers,
    });
    this.#httpSeconds = new Histogram({
      name: 'outpost_hub_http_request_duration_seconds',
      help: 'HTTP request duration, seconds, by method and route pattern.',
      labelNames: ['method', 'route'],
      buckets: HTTP_BUCKETS_S,
      registers,
    });
    new Gauge({
      name: 'outpost_hub_devices',
      help: 'Enrolled devices by connection state (online, offline).',
      labelNames: ['state'],
      registers,
      async collect() {
        const devices = await deps.store.listDevices();
        const online = devices.filter((d) => d.online).length;
        this.set({ state: 'online' }, online);
        this.set({ state: 'offline' }, devices.length - online);
      },
    });
    // A broker that cannot be counted (NATS: each node counts on its monitoring port) has no gauge.
    if (deps.bus.clientCount() !== null)
      new Gauge({
        name: 'outpost_hub_mqtt_connections',
        help: "MQTT clients connected to the broker (the embedded one, or Mosquitto's $SYS count).",
        registers,
        collect() {
          this.set(deps.bus.clientCount() ?? 0);
        },
      });
    // Cumulative counters kept by the hub (hub/stats.ts), mirrored at scrape time.
    const mirror = (name: string, help: string, read: (s: HubStats) => number) =>
      new Counter({
        name,
        help,
        registers,
        collect() {
          this.reset();
          this.inc(read(deps.stats()));
        },
      });
    mirror('outpost_hub_ingest_batches_total', 'Uplink batches processed.', (s) => s.ingest.batches);
    mirror(
      'outpost_hub_ingest_events_total',
      'Uplink events newly stored (exactly once).',
      (s) => s.ingest.stored,
    );
    mirror(
      'outpost_hub_ingest_duplicates_total',
      'Uplink events received again and ignored (already stored).',
      (s) => s.ingest.duplicates,
    );
    mirror(
      'outpost_hub_ingest_skipped_total',
      'Sequence numbers passed over because the agent dropped the events.',
      (s) => s.ingest.skipped,
    );
    mirror(
      'outpost_hub_events_deleted_total',
      'Events deleted by event retention (older than their limit and consumed by every reader).',
      (s) => s.retention.events,
    );
    mirror('outpost_hub_pings_total', 'Application-level pings answered.', (s) => s.pings);
    new Counter({
      name: 'outpost_hub_rejected_messages_total',
      help: 'Inbound messages refused or dropped, by reason (up.invalid, acl.publish, ...).',
      labelNames: ['reason'],
      registers,
      collect() {
        this.reset();
        for (const [reason, n] of Object.entries(deps.stats().rejected.byReason)) this.inc({ reason }, n);
      },
    });
    const startedS = deps.now() / 1000;
    new Gauge({
      name: 'outpost_hub_process_start_time_seconds',
      help: 'Start time of the hub process, seconds since the Unix epoch.',
      registers,
      collect() {
        this.set(startedS);
      },
    });
    new Gauge({
      name: 'outpost_hub_process_resident_memory_bytes',
      help: 'Resident set size of the hub process, bytes.',
      registers,
      collect() {
        this.set(process.memoryUsage.rss());
      },
    });
  }

  /** Counts one answered HTTP request; `route` is the matched pattern or `unmatched`. */
  observeRequest(method: string, route: string, status: number, seconds: number): void {
    this.#http.inc({ method, route, status: String(status) });
    this.#httpSeconds.observe({ method, route }, seconds);
  }

  /**
   * Adds a gauge read at scrape time (rollouts, federated rounds, drift, …). `collect`
   * returns one value per label set; labels must be bounded (no device ids).
   */
  gauge<L extends string>(
    name: string,
    help: string,
    labelNames: readonly L[],
    collect: () =>
      | Promise<Array<{ labels: Partial<Record<L, string>>; value: number }>>
      | Array<{ labels: Partial<Record<L, string>>; value: number }>,
  ): void {
    new Gauge<L>({
      name,
      help,
      labelNames,
      registers: [this.registry],
      async collect() {
        this.reset();
        for (const { labels, value } of await collect()) this.set(labels, value);
      },
    });
  }

  /** Adds a counter mirrored at scrape time from a cumulative value kept elsewhere (`_total` name). */
  counter<L extends string>(
    name: string,
    help: string,
    labelNames: readonly L[],
    collect: () =>
      | Promise<Array<{ labels: Partial<Record<L, string>>; value: number }>>
      | Array<{ labels: Partial<Record<L, string>>; value: number }>,
  ): void {
    new Counter<L>({
      name,
      help,
      labelNames,
      registers: [this.registry],
      async collect() {
        const values = await collect();
        this.reset();
        for (const { labels, value } of values) this.inc(labels, value);
      },
    });
  }

  /** The exposition text (Prometheus text format 0.0.4) and its content type. */
  async scrape(): Promise<{ contentType: string; text: string }> {
    return { contentType: this.registry.contentType, text: await this.registry.metrics() };
  }
}
