import type { Logger } from 'pino';
import type { DriftSettings } from '../drift/window.js';
import type { TelemetryFoldResult, TelemetryStore } from '../store/telemetry-types.js';

/** Options of {@link startTelemetryFold}. */
export interface TelemetryFoldOptions {
  store: TelemetryStore;
  drift: DriftSettings;
  now: () => number;
  log: Logger;
  /** A pass at least this often, ms, whatever this replica stores (default 2000). */
  intervalMs?: number;
  /**
   * Least time between two passes, ms (default 100): reports arriving together fold
   * together, one transaction for all of them.
   */
  gapMs?: number;
  /** Most events per pass (default 2000); a pass that reached it is followed by another. */
  limit?: number;
  /** Sees every pass that folded something (the drift monitor logs its alert decisions). */
  onPass?: (result: TelemetryFoldResult) => void;
}

/** The running fold. */
export interface TelemetryFold {
  /** Telemetry was stored: a pass soon (coalesced with others). */
  kick(): void;
  /** Resolves once no pass runs nor is due because of a kick. */
  idle(): Promise<void>;
  /** Stops; waits for the pass in progress. */
  close(): Promise<void>;
}

/**
 * Folds the stored `telemetry.device` and `telemetry.drift` events into the store's device
 * telemetry and drift state (`TelemetryStore.foldTelemetry`), in passes: after telemetry is
 * stored (a kick, at most one pass per `gapMs`), and every `intervalMs` for what other
 * replicas stored or a crash left behind. Every replica runs it; the store serialises passes
 * and folds each event once. Invalid reports are logged at `warn` (device reports once per
 * device and process).
 */
export function startTelemetryFold(options: TelemetryFoldOptions): TelemetryFold {
  const { store, log } = options;
  const gapMs = options.gapMs ?? 100;
  const limit = options.limit ?? 2000;
  const warned = new Set<string>();
  let closed = false;
  let running: Promise<void> | undefined;
  let due: NodeJS.Timeout | undefined;
  let again = false;
  let lastEnd = 0;

  const report = (result: TelemetryFoldResult) => {
    for (const bad of result.invalid) {
      if (bad.kind === 'device') {
        if (warned.has(bad.deviceId)) continue;
        warned.add(bad.deviceId);
        log.warn(
          { deviceId: bad.deviceId, problems: bad.problems },
          'invalid telemetry.device report dropped (logged once per device)',
        );
      } else {
        log.warn({ deviceId: bad.deviceId, problems: bad.problems }, 'invalid telemetry.drift dropped');
      }
    }
  };

  const pass = async () => {
    try {
      const result = await store.foldTelemetry({ limit, drift: options.drift, now: options.now() });
      if (result.devices + result.drift + result.invalid.length > 0) {
        report(result);
        options.onPass?.(result);
      }
      if (result.more) again = true;
    } catch (err) {
      if (!closed) log.warn({ err }, 'telemetry fold failed; retried on the next pass');
    }
  };

  const run = () => {
    due = undefined;
    if (closed) return;
    if (running) {
      again = true;
      return;
    }
    again = false;
    running = pass().finally(() => {
      running = undefined;
      lastEnd = Date.now();
      if (again && !closed) kick();
    });
  };

  function kick(): void {
    if (closed) return;
    if (running) {
      again = true;
      return;
    }
    if (due !== undefined) return;
    const wait = Math.max(0, lastEnd + gapMs - Date.now());
    due = setTimeout(run, wait);
  }

  const timer = setInterval(kick, options.intervalMs ?? 2000);
  timer.unref();
  kick();

  return {
    kick,
    async idle() {
      while (running !== undefined || due !== undefined) {
        if (running) await running;
        else await new Promise((resolve) => setTimeout(resolve, gapMs));
      }
    },
    async close() {
      closed = true;
      clearInterval(timer);
      if (due !== undefined) clearTimeout(due);
      due = undefined;
      await running;
    },
  };
}
