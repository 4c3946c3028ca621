import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { DEVICE_TELEMETRY_EVENT, DRIFT_EVENT } from '../../shared/index.js';
import type { HubBus } from '../bus/types.js';
import type { DeviceHealthSource } from '../dashboard/context.js';
import { registerDashboardRoutes } from '../dashboard/routes.js';
import { BaselineStore } from '../drift/baselines.js';
import type { DriftConfig } from '../drift/config.js';
import { DriftMonitor } from '../drift/monitor.js';
import { registerDriftRoutes } from '../drift/routes.js';
import type { HubStats } from '../stats.js';
import type { HubStore } from '../store/types.js';
import { DeviceTelemetryBook } from '../telemetry/device-book.js';
import { startTelemetryTap } from '../telemetry/device-ingest.js';
import { registerDeviceTelemetryRoutes } from '../telemetry/device-routes.js';
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
}

/** The hub's operations side, as other parts (rollout gates, tests) use it. */
export interface HubOperations {
  metrics: HubMetrics;
  telemetry: DeviceTelemetryBook;
  drift: DriftMonitor;
  baselines: BaselineStore;
  close(): void;
}

/**
 * Wires fleet operations into a hub whose HTTP app is built but not yet listening: Prometheus
 * `/metrics`, device telemetry and drift (fed by a tap on the devices' `up` batches), their
 * admin routes, and the dashboard.
 */
export async function attachOperations(deps: OperationsDeps): Promise<HubOperations> {
  const metrics = new HubMetrics({ store: deps.store, bus: deps.bus, stats: deps.stats, now: deps.now });
  const telemetry = new DeviceTelemetryBook(deps.log('telemetry'));
  const baselines = new BaselineStore(deps.dataDir, deps.log('drift'));
  const drift = new DriftMonitor(baselines, deps.drift, deps.now, deps.log('drift'));
  const tap = await startTelemetryTap({
    bus: deps.bus,
    now: deps.now,
    log: deps.log('telemetry'),
    onEvent: (deviceId, event, at) => {
      if (event.type === DEVICE_TELEMETRY_EVENT) telemetry.record(deviceId, event.body, at);
      else if (event.type === DRIFT_EVENT) drift.record(deviceId, event.body);
    },
  });
  metrics.gauge(
    'outpost_hub_telemetry_devices',
    'Devices that sent a telemetry.device report since the hub started.',
    [],
    () => [{ labels: {}, value: telemetry.list().length }],
  );
  metrics.counter(
    'outpost_hub_telemetry_invalid_total',
    'Telemetry events dropped as invalid since start, by kind (device, drift).',
    ['kind'],
    () => [
      { labels: { kind: 'device' }, value: telemetry.invalid },
      { labels: { kind: 'drift' }, value: drift.counters().invalid },
    ],
  );
  // One series per model version with a baseline or summaries: bounded by the registry.
  metrics.gauge(
    'outpost_hub_drift_psi',
    'Largest PSI of a model version over the drift window.',
    ['model', 'version'],
    () =>
      drift
        .list()
        .flatMap((s) =>
          s.psi === null ? [] : [{ labels: { model: s.model, version: s.version }, value: s.psi }],
        ),
  );
  metrics.gauge(
    'outpost_hub_drift_ks',
    'Largest KS statistic of a model version over the drift window.',
    ['model', 'version'],
    () =>
      drift
        .list()
        .flatMap((s) =>
          s.ks === null ? [] : [{ labels: { model: s.model, version: s.version }, value: s.ks }],
        ),
  );
  metrics.gauge('outpost_hub_drift_alerts_open', 'Drift alerts open now.', [], () => [
    { labels: {}, value: drift.counters().open },
  ]);
  metrics.counter('outpost_hub_drift_alerts_total', 'Drift alerts raised since the hub started.', [], () => [
    { labels: {}, value: drift.counters().raised },
  ]);
  addWorkGauges(metrics, deps.store);
  registerMetricsRoutes(deps.app, metrics);
  registerDeviceTelemetryRoutes(deps.app, telemetry);
  registerDriftRoutes(deps.app, {
    monitor: drift,
    baselines,
    store: deps.store,
    adminToken: deps.adminToken,
    now: deps.now,
  });
  registerDashboardRoutes(deps.app, {
    store: deps.store,
    telemetry,
    drift,
    thresholds: { psi: deps.drift.psiAlert, ks: deps.drift.ksAlert },
    now: deps.now,
    adminToken: deps.adminToken,
    ...(deps.deviceHealth ? { deviceHealth: deps.deviceHealth } : {}),
  });
  return { metrics, telemetry, drift, baselines, close: () => tap.close() };
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
