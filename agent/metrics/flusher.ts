import type { Logger } from 'pino';
import { MODEL_TELEMETRY_EVENT, type ModelTelemetry, ModelTelemetrySchema } from '../../shared/index.js';
import type { ModelMetrics } from './model-metrics.js';

/** What the flusher needs. */
export interface MetricsFlusherOptions {
  metrics: ModelMetrics;
  /** Queues one event in the outbox (commits it before returning); throws when refused. */
  enqueue(event: { type: string; body: ModelTelemetry; lane: 'telemetry' }): unknown;
  /** Flush period, ms (config `metrics.flushIntervalMs`, default 10 000). */
  intervalMs: number;
  log: Logger;
}

/**
 * Moves the in-memory model metrics into the outbox's `telemetry` lane as one
 * `telemetry.model` event every `intervalMs`: from there they survive
 * offline periods and restarts and reach the hub exactly once. A refused enqueue (a full
 * back-pressure lane, the agent closing) keeps the counts for the next flush, with a warning.
 * What was counted since the last flush is lost only if the process dies (at most one period).
 */
export class MetricsFlusher {
  readonly #o: MetricsFlusherOptions;
  #timer: NodeJS.Timeout | undefined;

  constructor(options: MetricsFlusherOptions) {
    this.#o = options;
  }

  start(): void {
    this.#timer ??= setInterval(() => this.flush(), this.#o.intervalMs);
    this.#timer.unref();
  }

  /** Queues what was counted since the last flush; true when something was queued. */
  flush(): boolean {
    const body = this.#o.metrics.drain();
    if (body === undefined) return false;
    const checked = ModelTelemetrySchema.safeParse(body);
    if (!checked.success) {
      // A bug, never expected: say so loudly rather than ship a report the hub would refuse.
      this.#o.log.error(
        { issues: checked.error.issues.slice(0, 5) },
        'model metrics report is invalid; dropped',
      );
      return false;
    }
    try {
      this.#o.enqueue({ type: MODEL_TELEMETRY_EVENT, body, lane: 'telemetry' });
      return true;
    } catch (err) {
      this.#o.metrics.restore(body);
      this.#o.log.warn({ err }, 'model metrics not queued; kept for the next flush');
      return false;
    }
  }

  /** Stops the timer and flushes one last time. */
  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    this.flush();
  }
}
