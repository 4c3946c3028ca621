import { MODEL_TELEMETRY_EVENT, ModelTelemetrySchema, OutpostError } from '../../shared/index.js';
import {
  ATTRIBUTING_STATES,
  addReport,
  attributedRollout,
  isFirstReport,
  type ModelReport,
  type ReportOwner,
} from '../rollouts/attribution.js';
import {
  type CounterRow,
  type DeviceRow,
  type RolloutRow,
  toCounters,
  toDevice,
  toRollout,
} from './rollout-rows.js';
import type { FoldResult, RolloutEvent, RolloutStore } from './rollout-types.js';
import { type Column, placeholders, type Sql, type SqlValue } from './sql/seam.js';

/** Key of the advisory lock that makes one telemetry fold at a time run across replicas. */
const FOLD_LOCK = 0x6f75_7466; // "outf"

const COUNTER_COLUMNS: Column[] = [
  ['rollout_id', 'TEXT'],
  ['device_id', 'TEXT'],
  ['model', 'TEXT'],
  ['version', 'TEXT'],
  ['role', 'TEXT'],
  ['requests', 'BIGINT'],
  ['errors', 'BIGINT'],
  ['latency', 'TEXT'],
  ['latency_sum_ms', 'DOUBLE PRECISION'],
  ['confidence_sum', 'DOUBLE PRECISION'],
  ['confidence_count', 'BIGINT'],
  ['compared', 'BIGINT'],
  ['agreed', 'BIGINT'],
  ['first_at', 'BIGINT'],
  ['last_at', 'BIGINT'],
];
const DEVICE_COLUMNS: Column[] = [
  ['rollout_id', 'TEXT'],
  ['device_id', 'TEXT'],
  ['arm', 'TEXT'],
  ['version', 'TEXT'],
  ['role', 'TEXT'],
  ['stage', 'INTEGER'],
  ['assigned_at', 'BIGINT'],
  ['previous', 'TEXT'],
  ['reported_at', 'BIGINT'],
  ['excluded_at', 'BIGINT'],
  ['rolled_back_at', 'BIGINT'],
];

/** `ON CONFLICT (key) DO UPDATE SET` every other column to the new row's value. */
function replaceOnConflict(key: readonly string[], columns: readonly Column[]): string {
  const set = columns.filter(([c]) => !key.includes(c)).map(([c]) => `${c} = excluded.${c}`);
  return `ON CONFLICT (${key.join(', ')}) DO UPDATE SET ${set.join(', ')}`;
}

const REPLACE_COUNTER = replaceOnConflict(
  ['rollout_id', 'device_id', 'model', 'version', 'role'],
  COUNTER_COLUMNS,
);
const REPLACE_DEVICE = replaceOnConflict(['rollout_id', 'device_id'], DEVICE_COLUMNS);

/** Appends one timeline entry; the caller holds the rollout row lock (seq = max + 1). */
async function appendOne(q: Sql, e: Omit<RolloutEvent, 'seq'>): Promise<void> {
  await q.run(
    `INSERT INTO rollout_events (rollout_id, seq, at, kind, stage, message, detail)
     SELECT ?, COALESCE(MAX(seq), 0) + 1, ?, ?, ?, ?, ? FROM rollout_events WHERE rollout_id = ?`,
    [e.rolloutId, e.at, e.kind, e.stage, e.message, JSON.stringify(e.detail ?? null), e.rolloutId],
  );
}

function lockRollout(q: Sql, id: string): Promise<RolloutRow | undefined> {
  return q.get<RolloutRow>(`SELECT * FROM rollouts WHERE id = ?${q.dialect.forUpdate}`, [id]);
}

/** Adds one report into its counters row (hub/rollouts/attribution.ts); 1 for a first report. */
async function foldReport(
  q: Sql,
  deviceId: string,
  m: ModelReport,
  from: number,
  to: number,
): Promise<number> {
  const row = await q.get<{ rollout_id: string; version: string; role: string; reported_at: number | null }>(
    `SELECT d.rollout_id, d.version, d.role, d.reported_at FROM rollout_devices d
     JOIN rollouts r ON r.id = d.rollout_id
     WHERE d.device_id = ? AND ${q.dialect.jsonField('r.spec', 'model')} = ?
       AND r.state IN ${placeholders(ATTRIBUTING_STATES.length)} AND d.rolled_back_at IS NULL
     ORDER BY r.created_at DESC LIMIT 1`,
    [deviceId, m.model, ...ATTRIBUTING_STATES],
  );
  const owner: ReportOwner | undefined = row && {
    rolloutId: row.rollout_id,
    version: row.version,
    role: row.role,
    reportedAt: row.reported_at,
  };
  const key = [attributedRollout(owner), deviceId, m.model, m.version, m.role];
  const prev = await q.get<CounterRow>(
    'SELECT * FROM model_counters WHERE rollout_id = ? AND device_id = ? AND model = ? AND version = ? AND role = ?',
    key,
  );
  const t = addReport(prev && toCounters(prev), m, from, to);
  const c = t.counters;
  const values: SqlValue[] = [
    ...key,
    c.requests,
    c.errors,
    JSON.stringify(c.latency),
    c.latencySumMs,
    c.confidenceSum,
    c.confidenceCount,
    c.compared,
    c.agreed,
    t.firstAt,
    t.lastAt,
  ];
  await q.insertMany('model_counters', COUNTER_COLUMNS, [values], REPLACE_COUNTER);
  if (!isFirstReport(owner, m)) return 0;
  await q.run(
    'UPDATE rollout_devices SET reported_at = ? WHERE rollout_id = ? AND device_id = ? AND reported_at IS NULL',
    [Date.now(), owner.rolloutId, deviceId],
  );
  return 1;
}

/**
 * Folds telemetry into counters (see {@link RolloutStore.foldModelTelemetry}) in one
 * transaction that first takes the fold lock where replicas share the database: two
 * replicas folding at once run one after the other, and the second starts from the first
 * one's cursors, so no event is ever counted twice.
 */
async function fold(q: Sql, limit: number): Promise<FoldResult> {
  if (q.dialect.advisoryLock !== undefined) await q.get(q.dialect.advisoryLock, [FOLD_LOCK]);
  const result: FoldResult = { events: 0, invalid: 0, firstReports: 0 };
  const behind = await q.all<{ device_id: string; epoch: string; hwm: number; cursor: number }>(
    `SELECT h.device_id, h.epoch, h.hwm, COALESCE(c.seq, 0) AS cursor FROM hwm h
     LEFT JOIN model_metrics_cursor c ON c.device_id = h.device_id AND c.epoch = h.epoch
     WHERE h.lane = 'telemetry' AND h.hwm > COALESCE(c.seq, 0)`,
  );
  for (const b of behind) {
    const budget = limit - result.events - result.invalid;
    if (budget <= 0) break;
    const rows = await q.all<{ seq: number; body: string | null }>(
      `SELECT seq, body FROM events
       WHERE device_id = ? AND epoch = ? AND lane = 'telemetry' AND seq > ? AND seq <= ? AND type = ?
       ORDER BY seq LIMIT ?`,
      [b.device_id, b.epoch, b.cursor, b.hwm, MODEL_TELEMETRY_EVENT, budget],
    );
    for (const row of rows) {
      const parsed = ModelTelemetrySchema.safeParse(row.body === null ? null : JSON.parse(row.body));
      if (!parsed.success) {
        result.invalid++;
        continue;
      }
      result.events++;
      for (const m of parsed.data.models) {
        result.firstReports += await foldReport(q, b.device_id, m, parsed.data.from, parsed.data.to);
      }
    }
    // Every event up to the hwm was read unless the budget cut the page short.
    const last = rows.length === budget ? (rows[rows.length - 1] as { seq: number }).seq : b.hwm;
    await q.run(
      `INSERT INTO model_metrics_cursor (device_id, epoch, seq) VALUES (?, ?, ?)
       ON CONFLICT (device_id, epoch) DO UPDATE SET seq = excluded.seq`,
      [b.device_id, b.epoch, last],
    );
  }
  return result;
}

/**
 * Rollouts, their devices and timeline, and model-metrics aggregation. Updates and timeline
 * appends lock the rollout row, so replicas never interleave a state change or collide on a
 * timeline seq.
 */
export function rolloutArea(db: Sql): RolloutStore {
  return {
    createRollout(id, spec, atMs, created) {
      return db.tx(async (q) => {
        await q.run(
          `INSERT INTO rollouts (id, spec, state, stage, stage_started_at, created_at, updated_at, reason)
           VALUES (?, ?, 'running', 0, ?, ?, ?, NULL)`,
          [id, JSON.stringify(spec), atMs, atMs, atMs],
        );
        await appendOne(q, { ...created, rolloutId: id });
        return toRollout((await lockRollout(q, id)) as RolloutRow);
      });
    },
    async getRollout(id) {
      const row = await db.get<RolloutRow>('SELECT * FROM rollouts WHERE id = ?', [id]);
      return row === undefined ? undefined : toRollout(row);
    },
    async listRollouts() {
      return (await db.all<RolloutRow>('SELECT * FROM rollouts ORDER BY created_at DESC, id')).map(toRollout);
    },
    updateRollout(id, update, event, atMs, expect) {
      return db.tx(async (q) => {
        const row = await lockRollout(q, id);
        if (row === undefined) throw new OutpostError('HUB_ROLLOUT_NOT_FOUND', `no rollout ${id}`);
        const current = toRollout(row);
        if (expect !== undefined && !expect.includes(current.state)) {
          throw new OutpostError(
            'HUB_ROLLOUT_CONFLICT',
            `rollout ${id} is ${current.state}; this needs it ${expect.join(' or ')}`,
          );
        }
        const next = { ...current, ...update };
        await q.run(
          'UPDATE rollouts SET state = ?, stage = ?, stage_started_at = ?, reason = ?, updated_at = ? WHERE id = ?',
          [next.state, next.stage, next.stageStartedAt, next.reason, atMs, id],
        );
        if (event) await appendOne(q, { ...event, rolloutId: id });
        return { ...next, updatedAt: atMs };
      });
    },
    async appendRolloutEvents(events) {
      await db.tx(async (q) => {
        const ids = [...new Set(events.map((e) => e.rolloutId))].sort();
        for (const id of ids) await lockRollout(q, id);
        for (const e of events) await appendOne(q, e);
      });
    },
    async listRolloutEvents(id) {
      const rows = await db.all<Record<string, unknown>>(
        'SELECT * FROM rollout_events WHERE rollout_id = ? ORDER BY seq',
        [id],
      );
      return rows.map((r) => ({
        rolloutId: r.rollout_id as string,
        seq: r.seq as number,
        at: r.at as number,
        kind: r.kind as string,
        stage: r.stage as number,
        message: r.message as string,
        detail: JSON.parse(r.detail as string) as unknown,
      }));
    },
    async putRolloutDevices(devices, events = []) {
      // The last assignment of a (rollout, device) wins, as one statement may not touch a row twice.
      const latest = new Map(devices.map((d) => [`${d.rolloutId}\u0000${d.deviceId}`, d]));
      const rows = [...latest.values()].map((d) => [
        d.rolloutId,
        d.deviceId,
        d.arm,
        d.version,
        d.role,
        d.stage,
        d.assignedAt,
        d.previous,
        d.reportedAt,
        d.excludedAt,
        d.rolledBackAt,
      ]);
      await db.tx(async (q) => {
        const ids = [...new Set(events.map((e) => e.rolloutId))].sort();
        for (const id of ids) await lockRollout(q, id);
        await q.insertMany('rollout_devices', DEVICE_COLUMNS, rows, REPLACE_DEVICE);
        for (const e of events) await appendOne(q, e);
      });
    },
    async listRolloutDevices(id) {
      const rows = await db.all<DeviceRow>(
        'SELECT * FROM rollout_devices WHERE rollout_id = ? ORDER BY assigned_at, device_id',
        [id],
      );
      return rows.map(toDevice);
    },
    foldModelTelemetry: (limit) => db.tx((q) => fold(q, limit)),
    async modelCounters(query) {
      const where: string[] = [];
      const params: string[] = [];
      for (const [column, value] of [
        ['rollout_id', query.rolloutId],
        ['model', query.model],
        ['device_id', query.deviceId],
      ] as const) {
        if (value === undefined) continue;
        params.push(value);
        where.push(`${column} = ?`);
      }
      const rows = await db.all<CounterRow>(
        `SELECT * FROM model_counters ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
         ORDER BY model, version, role, device_id, rollout_id`,
        params,
      );
      return rows.map(toCounters);
    },
  };
}
