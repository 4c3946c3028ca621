import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { HubBus } from '../bus/types.js';
import type { DeviceHealthSource } from '../dashboard/context.js';
import { registerDashboardRoutes } from '../dashboard/routes.js';
import { importBaselineFiles } from '../drift/baselines.js';
import type { DriftConfig } from '../drift/config.js';
import { DriftMonitor } from '../drift/monitor.js';
import { registerDriftRoutes } from '../drift/routes.js';
import type { HubStats } from '../stats.js';
import type { HubStore } from '../store/types.js';
import { registerDeviceTelemetryRoutes } from '../telemetry/device-routes.js';
import { startTelemetryFold, type TelemetryFold } from '../telemetry/fold-loop.js';
import { HubMetrics } from './hub-metrics.js';
import { registerMetricsRoutes } from './routes.js';

/** What {@link attachOperations} needs from the hub. */
export interface OperationsDeps {
  app: FastifyInstance;
  store: HubStore;
  bus: HubBus;
  stats: () => HubStats;
  adminToken: string;
  dataDir: string;
  drift: DriftConfig;
  now: () => number;
  log: (component: string) => Logger;
  /** Per-device broker counts the device page shows. */
  deviceHealth?: DeviceHealthSource;
  /** Least time between two telemetry fold passes, ms (default 100). */
  foldGapMs?: number;
}

/** The hub's operations side, as other parts (rollout gates, tests) use it. */
export interface HubOperations {
  metrics: HubMetrics;
  /** Folds stored telemetry into device telemetry and drift state: kick it after storing some. */
  fold: TelemetryFold;
  drift: DriftMonitor;
  close(): Promise<void>;
}

/**
 * Wires fleet operations into a hub whose HTTP app is built but not yet listening: Prometheus
 * `/metrics`, the telemetry fold (device telemetry and drift from the stored telemetry
 * events, into the store), their admin routes, and the dashboard. Everything they show is
 * read from the store: the same on every replica, and after a restart.
 */
export async function attachOperations(deps: OperationsDeps): Promise<HubOperations> {
  const metrics = new HubMetrics({ store: deps.store, bus: deps.bus, stats: deps.stats, now: deps.now });
  await importBaselineFiles(deps.dataDir, deps.store, deps.log('drift'));
  const drift = new DriftMonitor(deps.store, deps.drift, deps.now, deps.log('drift'));
  const fold = startTelemetryFold({
    store: deps.store,
    drift: deps.drift,
    now: deps.now,
    log: deps.log('telemetry'),
    ...(deps.foldGapMs !== undefined ? { gapMs: deps.foldGapMs } : {}),
    onPass: (result) => {
      for (const evaluation of result.evaluations) drift.report(evaluation);
    },
  });
  metrics.gauge(
    'outpost_hub_telemetry_devices',
    'Devices with a stored telemetry.device report.',
    [],
    async () => [{ labels: {}, value: (await deps.store.telemetryCounts()).devices }],
  );
  metrics.counter(
    'outpost_hub_telemetry_invalid_total',
    'Telemetry events the fold dropped as invalid, by kind (device, drift).',
    ['kind'],
    async () => {
      const { invalid } = await deps.store.telemetryCounts();
      return [
        { labels: { kind: 'device' }, value: invalid.device },
        { labels: { kind: 'drift' }, value: invalid.drift },
      ];
    },
  );
  // One series per model version with a baseline or summaries: bounded by the registry.
  metrics.gauge(
    'outpost_hub_drift_psi',
    'Largest PSI of a model version over the drift window.',
    ['model', 'version'],
    async () =>
      (await drift.list()).flatMap((s) =>
        s.psi === null ? [] : [{ labels: { model: s.model, version: s.version }, value: s.psi }],
      ),
  );
  metrics.gauge(
    'outpost_hub_drift_ks',
    'Largest KS statistic of a model version over the drift window.',
    ['model', 'version'],
    async () =>
      (await drift.list()).flatMap((s) =>
        s.ks === null ? [] : [{ labels: { model: s.model, version: s.version }, value: s.ks }],
      ),
  );
  metrics.gauge('outpost_hub_drift_alerts_open', 'Drift alerts open now.', [], async () => [
    { labels: {}, value: (await drift.counters()).open },
  ]);
  metrics.counter(
    'outpost_hub_drift_alerts_total',
    'Drift alerts raised (stored: across restarts and replicas).',
    [],
    async () => [{ labels: {}, value: (await drift.counters()).raised }],
  );
  addWorkGauges(metrics, deps.store);
  registerMetricsRoutes(deps.app, metrics);
  registerDeviceTelemetryRoutes(deps.app, deps.store);
  registerDriftRoutes(deps.app, {
    monitor: drift,
    store: deps.store,
    adminToken: deps.adminToken,
    now: deps.now,
  });
  registerDashboardRoutes(deps.app, {
    store: deps.store,
    drift,
    thresholds: { psi: deps.drift.psiAlert, ks: deps.drift.ksAlert },
    now: deps.now,
    adminToken: deps.adminToken,
    ...(deps.deviceHealth ? { deviceHealth: deps.deviceHealth } : {}),
  });
  return { metrics, fold, drift, close: () => fold.close() };
}

/**
 * Rollouts by state and federated tasks by status (6), read from the store at
 * scrape time when it has those parts (typed structurally: the store interface grows per
 * issue). Labels are the states, a fixed set.
 */
function addWorkGauges(metrics: HubMetrics, store: unknown): void {
  const s = store as {
    listRollouts?: () => Promise<Array<{ state: string }>>;
    listFlTasks?: () => Promise<Array<{ status: string; round: number }>>;
  };
  const countBy = <T>(items: readonly T[], key: (t: T) => string) => {
    const counts = new Map<string, number>();
    for (const item of items) counts.set(key(item), (counts.get(key(item)) ?? 0) + 1);
    return [...counts].map(([k, value]) => ({ k, value }));
  };
  const { listRollouts, listFlTasks } = s;
  if (typeof listRollouts === 'function')
    metrics.gauge(
      'outpost_hub_rollouts',
      'Rollouts by state (running, paused, completed, rolled-back, …).',
      ['state'],
      async () =>
        countBy(await listRollouts.call(store), (r) => r.state).map(({ k, value }) => ({
          labels: { state: k },
          value,
        })),
    );
  if (typeof listFlTasks === 'function')
    metrics.gauge(
      'outpost_hub_federated_tasks',
      'Federated tasks by status (running, done, stopped, failed).',
      ['status'],
      async () =>
        countBy(await listFlTasks.call(store), (t) => t.status).map(({ k, value }) => ({
          labels: { status: k },
          value,
        })),
    );
}
