import type { Logger } from 'pino';
import { DEVICE_TELEMETRY_EVENT, DRIFT_EVENT } from '../../shared/index.js';
import type { AgentEvent, AgentStatus } from '../types.js';
import { buildDeviceTelemetry, diskUsage } from './device-report.js';
import type { DriftSummarizer } from './drift-summarizer.js';

/** Options of {@link TelemetryReporter}. */
export interface TelemetryReporterOptions {
  status: () => AgentStatus;
  drift: DriftSummarizer;
  /** Durably enqueues an event (telemetry lane). */
  enqueue: (event: AgentEvent) => void;
  dataDir: string;
  /** Period of `telemetry.device` and `telemetry.drift` events, ms (config `telemetry.intervalMs`). */
  intervalMs: number;
  now: () => number;
  log: Logger;
}

/**
 * Queues a `telemetry.device` report and, when inferences were summarised, a
 * `telemetry.drift` event every `intervalMs` in the `telemetry` lane,
 * and once more at {@link stop}. A failed enqueue (lane full under back-pressure, agent
 * closing) is logged at `warn` and the window is dropped: telemetry never blocks the agent.
 */
export class TelemetryReporter {
  #timer: NodeJS.Timeout | undefined;

  constructor(private readonly o: TelemetryReporterOptions) {}

  start(): void {
    this.#timer ??= setInterval(() => this.flush(), this.o.intervalMs);
    this.#timer.unref();
  }

  /** Queues the events now. */
  flush(): void {
    const at = this.o.now();
    this.#enqueue(DEVICE_TELEMETRY_EVENT, () =>
      buildDeviceTelemetry(this.o.status(), at, diskUsage(this.o.dataDir)),
    );
    const drift = this.o.drift.drain();
    if (drift) this.#enqueue(DRIFT_EVENT, () => drift);
  }

  #enqueue(type: string, body: () => unknown): void {
    try {
      this.o.enqueue({ type, body: body(), lane: 'telemetry' });
    } catch (err) {
      this.o.log.warn({ type, err: (err as Error).message }, 'telemetry event dropped');
    }
  }

  /** Stops the timer after a last flush (call before the outbox stops). */
  stop(): void {
    if (this.#timer === undefined) return;
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.flush();
  }
}
