import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { TensorMap } from '../../inference/index.js';
import { AgentMetrics, type ObservedInference } from '../api/metrics.js';
import type { AgentEvent, AgentStatus } from '../types.js';
import { DriftEdgesClient } from './drift-edges.js';
import { DriftSummarizer } from './drift-summarizer.js';
import { TelemetryReporter } from './reporter.js';

/** What {@link createAgentOperations} needs from the agent. */
export interface AgentOperationsDeps {
  deviceId: string;
  deviceSecret: string;
  dataDir: string;
  hubHttpUrl: string | undefined;
  telemetry: { intervalMs: number; driftEdgesRetryMs: number };
  status: () => AgentStatus;
  /** Active engine of a model (`none` when none is admitted). */
  engineOf: (model: string) => string;
  enqueue: (event: AgentEvent) => void;
  now: () => number;
  log: Logger;
  /** `fetch` to the hub over TLS; the global one when absent. */
  fetch?: (url: string | URL, init: RequestInit) => Promise<Response>;
}

/** The agent's operations side: metrics, telemetry and drift summaries. */
export interface AgentOperations {
  readonly metrics: AgentMetrics;
  /** Runtime observer: counts every inference, summarises active ones for drift. */
  observe(o: ObservedInference & { inputs: TensorMap; outputs: TensorMap | undefined }): void;
  /** Adds `GET /metrics` to the local API. */
  registerRoutes(app: FastifyInstance): void;
  start(): void;
  /** Stops the timer after a last telemetry flush; call before the outbox stops. */
  stop(): void;
}

/** Wires metrics, device telemetry and drift summaries for one agent. */
export function createAgentOperations(deps: AgentOperationsDeps): AgentOperations {
  const metrics = new AgentMetrics(deps.status, deps.engineOf);
  const drift = new DriftSummarizer(deps.now);
  const edges = new DriftEdgesClient({
    hubHttpUrl: deps.hubHttpUrl,
    deviceId: deps.deviceId,
    deviceSecret: deps.deviceSecret,
    retryMs: deps.telemetry.driftEdgesRetryMs,
    now: deps.now,
    log: deps.log,
    ...(deps.fetch ? { fetch: deps.fetch } : {}),
  });
  const reporter = new TelemetryReporter({
    status: deps.status,
    drift,
    enqueue: deps.enqueue,
    dataDir: deps.dataDir,
    intervalMs: deps.telemetry.intervalMs,
    now: deps.now,
    log: deps.log,
  });
  return {
    metrics,
    observe(o) {
      metrics.recordInference(o);
      if (o.role === 'active' && o.outputs !== undefined)
        drift.record(o.model, o.version, o.inputs, o.outputs, edges.get(o.model, o.version));
    },
    registerRoutes: (app) => metrics.register(app),
    start: () => reporter.start(),
    stop: () => reporter.stop(),
  };
}
