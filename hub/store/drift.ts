import { type DriftBaseline, DriftBaselineSchema, type DriftSummary } from '../../shared/index.js';
import {
  addSummary,
  alertChange,
  DRIFT_HISTORY_POINTS,
  DRIFT_MAX_ALERTS,
  type DriftSettings,
  type DriftSums,
  driftBucketMs,
  emptySums,
  judgeDrift,
  mergeSums,
} from '../drift/window.js';
import type { Column, Sql } from './sql/seam.js';
import type {
  DriftAlert,
  DriftEvaluation,
  DriftHistoryPoint,
  DriftWindow,
  TelemetryStore,
} from './telemetry-types.js';

/**
 * Key of the advisory lock that makes one telemetry fold (or drift evaluation) at a time run
 * across replicas ("outd"; the model-metrics fold has its own).
 */
export const TELEMETRY_FOLD_LOCK = 0x6f75_7464;

interface AlertRow {
  id: number;
  model: string;
  version: string;
  at: number;
  psi: number | null;
  ks: number | null;
  rows: number;
  cleared_at: number | null;
}

const toAlert = (r: AlertRow): DriftAlert => ({
  id: r.id,
  model: r.model,
  version: r.version,
  at: r.at,
  psi: r.psi,
  ks: r.ks,
  rows: r.rows,
  clearedAt: r.cleared_at,
});

const BUCKET_COLUMNS: Column[] = [
  ['model', 'TEXT'],
  ['version', 'TEXT'],
  ['start', 'BIGINT'],
  ['end_at', 'BIGINT'],
  ['rows', 'BIGINT'],
  ['sums', 'TEXT'],
];
const REPLACE_BUCKET =
  'ON CONFLICT (model, version, start) DO UPDATE SET end_at = excluded.end_at, rows = excluded.rows, sums = excluded.sums';
const DEVICE_COLUMNS: Column[] = [
  ['model', 'TEXT'],
  ['version', 'TEXT'],
  ['device_id', 'TEXT'],
  ['last_at', 'BIGINT'],
];

/** Takes the fold's lock where replicas share the database (nothing on SQLite: one writer). */
export async function lockTelemetryFold(q: Sql): Promise<void> {
  if (q.dialect.advisoryLock !== undefined) await q.get(q.dialect.advisoryLock, [TELEMETRY_FOLD_LOCK]);
}

const versionKey = (model: string, version: string) => `${model}\u0000${version}`;

/**
 * Adds device summaries (received at hub time `receivedAt`) into their model version's time
 * buckets (width {@link driftBucketMs} of the window) and records when each device last
 * summarised it; the caller holds the fold lock. Returns the model versions touched.
 */
export async function foldDriftSummaries(
  q: Sql,
  items: ReadonlyArray<{ deviceId: string; receivedAt: number; summary: DriftSummary }>,
  settings: DriftSettings,
): Promise<Array<{ model: string; version: string }>> {
  const width = driftBucketMs(settings.windowMs);
  const buckets = new Map<string, { model: string; version: string; start: number; sums: DriftSums }>();
  const seen = new Map<string, { model: string; version: string; deviceId: string; at: number }>();
  const versions = new Map<string, { model: string; version: string }>();
  for (const { deviceId, receivedAt, summary } of items) {
    const { model, version } = summary;
    versions.set(versionKey(model, version), { model, version });
    const start = Math.floor(receivedAt / width) * width;
    const key = `${versionKey(model, version)}\u0000${start}`;
    const bucket = buckets.get(key) ?? { model, version, start, sums: emptySums() };
    buckets.set(key, bucket);
    addSummary(bucket.sums, summary);
    const deviceKey = `${versionKey(model, version)}\u0000${deviceId}`;
    const last = seen.get(deviceKey);
    if (last === undefined || last.at < receivedAt)
      seen.set(deviceKey, { model, version, deviceId, at: receivedAt });
  }
  if (versions.size === 0) return [];
  for (const { model, version } of versions.values()) {
    await q.run(
      `INSERT INTO drift_models (model, version, history) VALUES (?, ?, '[]') ON CONFLICT DO NOTHING`,
      [model, version],
    );
  }
  const rows = [];
  for (const b of buckets.values()) {
    const stored = await q.get<{ sums: string }>(
      'SELECT sums FROM drift_buckets WHERE model = ? AND version = ? AND start = ?',
      [b.model, b.version, b.start],
    );
    const sums = emptySums();
    if (stored !== undefined) mergeSums(sums, JSON.parse(stored.sums) as DriftSums);
    mergeSums(sums, b.sums);
    rows.push([b.model, b.version, b.start, b.start + width, sums.rows, JSON.stringify(sums)]);
  }
  await q.insertMany('drift_buckets', BUCKET_COLUMNS, rows, REPLACE_BUCKET);
  await q.insertMany(
    'drift_devices',
    DEVICE_COLUMNS,
    [...seen.values()].map((d) => [d.model, d.version, d.deviceId, d.at]),
    `ON CONFLICT (model, version, device_id) DO UPDATE SET last_at = ${q.dialect.greatest('drift_devices.last_at', 'excluded.last_at')}`,
  );
  return [...versions.values()];
}

async function readBaseline(q: Sql, model: string, version: string): Promise<DriftBaseline | undefined> {
  const row = await q.get<{ baseline: string }>(
    'SELECT baseline FROM drift_baselines WHERE model = ? AND version = ?',
    [model, version],
  );
  if (row === undefined) return undefined;
  const parsed = DriftBaselineSchema.safeParse(JSON.parse(row.baseline));
  return parsed.success ? parsed.data : undefined;
}

async function readHistory(q: Sql, model: string, version: string): Promise<DriftHistoryPoint[]> {
  const row = await q.get<{ history: string }>(
    'SELECT history FROM drift_models WHERE model = ? AND version = ?',
    [model, version],
  );
  return row === undefined ? [] : (JSON.parse(row.history) as DriftHistoryPoint[]);
}

/** The window of a model version as of `since` (see {@link TelemetryStore.driftWindow}). */
async function readWindow(q: Sql, model: string, version: string, since: number): Promise<DriftWindow> {
  const buckets = await q.all<{ sums: string }>(
    'SELECT sums FROM drift_buckets WHERE model = ? AND version = ? AND end_at > ? ORDER BY start',
    [model, version, since],
  );
  const sums = emptySums();
  for (const b of buckets) mergeSums(sums, JSON.parse(b.sums) as DriftSums);
  const devices = await q.get<{ n: number }>(
    'SELECT COUNT(*) AS n FROM drift_devices WHERE model = ? AND version = ? AND last_at >= ?',
    [model, version, since],
  );
  return {
    baseline: await readBaseline(q, model, version),
    sums,
    devices: devices?.n ?? 0,
    history: await readHistory(q, model, version),
  };
}

/**
 * Evaluates a model version at `now`, storing what it decides (history point, alert raised or
 * cleared) and forgetting buckets and device marks that left the window; the caller holds
 * the fold lock (so alert ids and open alerts are decided by one evaluation at a time).
 */
export async function evaluateDriftIn(
  q: Sql,
  model: string,
  version: string,
  settings: DriftSettings,
  now: number,
): Promise<DriftEvaluation> {
  const since = now - settings.windowMs;
  const window = await readWindow(q, model, version, since);
  const verdict = judgeDrift(window.baseline, window.sums, window.devices, settings);
  const history = [
    ...window.history,
    { at: now, psi: verdict.psi, ks: verdict.ks, rows: verdict.rows },
  ].slice(-DRIFT_HISTORY_POINTS);
  await q.run(
    `INSERT INTO drift_models (model, version, history) VALUES (?, ?, ?)
     ON CONFLICT (model, version) DO UPDATE SET history = excluded.history`,
    [model, version, JSON.stringify(history)],
  );
  await q.run('DELETE FROM drift_buckets WHERE model = ? AND version = ? AND end_at <= ?', [
    model,
    version,
    since,
  ]);
  await q.run('DELETE FROM drift_devices WHERE model = ? AND version = ? AND last_at < ?', [
    model,
    version,
    since,
  ]);
  const open = await q.get<AlertRow>(
    `SELECT * FROM drift_alerts WHERE model = ? AND version = ? AND cleared_at IS NULL ORDER BY id DESC LIMIT 1`,
    [model, version],
  );
  const change = alertChange(verdict, open !== undefined, settings);
  const evaluation: DriftEvaluation = { model, version, verdict, history };
  if (change === 'raise') {
    const next = await q.get<{ id: number }>('SELECT COALESCE(MAX(id), 0) + 1 AS id FROM drift_alerts');
    const alert: DriftAlert = {
      id: next?.id ?? 1,
      model,
      version,
      at: now,
      psi: verdict.psi,
      ks: verdict.ks,
      rows: verdict.rows,
      clearedAt: null,
    };
    await q.run(
      'INSERT INTO drift_alerts (id, model, version, at, psi, ks, rows, cleared_at) VALUES (?, ?, ?, ?, ?, ?, ?, NULL)',
      [alert.id, model, version, alert.at, alert.psi, alert.ks, alert.rows],
    );
    // Open alerts stay whatever their age; closed ones beyond the newest DRIFT_MAX_ALERTS go.
    await q.run('DELETE FROM drift_alerts WHERE cleared_at IS NOT NULL AND id <= ?', [
      alert.id - DRIFT_MAX_ALERTS,
    ]);
    evaluation.raised = alert;
  } else if (change === 'clear' && open !== undefined) {
    await q.run('UPDATE drift_alerts SET cleared_at = ? WHERE id = ?', [now, open.id]);
    evaluation.cleared = { ...toAlert(open), clearedAt: now };
  }
  return evaluation;
}

type DriftMethods = Pick<
  TelemetryStore,
  | 'putDriftBaseline'
  | 'getDriftBaseline'
  | 'listDriftBaselines'
  | 'listDriftModels'
  | 'driftWindow'
  | 'evaluateDrift'
  | 'listDriftAlerts'
  | 'driftAlertCounts'
>;

/**
 * Drift baselines, windows, history and alerts. What changes them — the telemetry fold and
 * an evaluation after a new baseline — takes the fold lock, so replicas never interleave an
 * alert decision.
 */
export function driftArea(db: Sql): DriftMethods {
  return {
    async putDriftBaseline(baseline) {
      await db.run(
        `INSERT INTO drift_baselines (model, version, baseline, created_at) VALUES (?, ?, ?, ?)
         ON CONFLICT (model, version) DO UPDATE SET baseline = excluded.baseline, created_at = excluded.created_at`,
        [baseline.model, baseline.version, JSON.stringify(baseline), baseline.createdAt],
      );
    },
    getDriftBaseline: (model, version) => readBaseline(db, model, version),
    async listDriftBaselines() {
      const rows = await db.all<{ baseline: string }>(
        'SELECT baseline FROM drift_baselines ORDER BY model, version',
      );
      return rows.flatMap((r) => {
        const parsed = DriftBaselineSchema.safeParse(JSON.parse(r.baseline));
        return parsed.success ? [parsed.data] : [];
      });
    },
    async listDriftModels() {
      return db.all<{ model: string; version: string }>(
        `SELECT model, version FROM drift_models
         UNION SELECT model, version FROM drift_baselines
         ORDER BY model, version`,
      );
    },
    driftWindow: (model, version, since) => readWindow(db, model, version, since),
    evaluateDrift: (model, version, settings, now) =>
      db.tx(async (q) => {
        await lockTelemetryFold(q);
        return evaluateDriftIn(q, model, version, settings, now);
      }),
    async listDriftAlerts() {
      return (await db.all<AlertRow>('SELECT * FROM drift_alerts ORDER BY id DESC')).map(toAlert);
    },
    async driftAlertCounts() {
      const row = await db.get<{ open_now: number | null; raised: number | null }>(
        `SELECT SUM(CASE WHEN cleared_at IS NULL THEN 1 ELSE 0 END) AS open_now, MAX(id) AS raised
         FROM drift_alerts`,
      );
      return { open: Number(row?.open_now ?? 0), raised: Number(row?.raised ?? 0) };
    },
  };
}
