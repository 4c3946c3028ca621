import {
  addCounters,
  emptyCounters,
  type MetricCounters,
  MODEL_TELEMETRY_EVENT,
  type ModelRole,
  ModelTelemetrySchema,
  OutpostError,
} from '../../shared/index.js';
import type { PgPool, Queryable } from './postgres-pool.js';
import {
  type CounterRow,
  type DeviceRow,
  type RolloutRow,
  toCounters,
  toDevice,
  toRollout,
} from './rollout-rows.js';
import type { FoldResult, RolloutEvent, RolloutStore } from './rollout-types.js';

type NewEvent = Omit<RolloutEvent, 'rolloutId' | 'seq'>;

/** Key of the advisory lock that makes one telemetry fold at a time run across replicas. */
const FOLD_LOCK = 0x6f75_7466; // "outf"

/** Appends one timeline entry; the caller holds the rollout row lock (seq = max + 1). */
async function appendOne(q: Queryable, e: Omit<RolloutEvent, 'seq'>): Promise<void> {
  await q.query(
    `INSERT INTO rollout_events (rollout_id, seq, at, kind, stage, message, detail)
     SELECT $1, COALESCE(MAX(seq), 0) + 1, $2, $3, $4, $5, $6 FROM rollout_events WHERE rollout_id = $1`,
    [e.rolloutId, e.at, e.kind, e.stage, e.message, JSON.stringify(e.detail ?? null)],
  );
}

async function lockRollout(q: Queryable, id: string): Promise<RolloutRow | undefined> {
  const { rows } = await q.query<RolloutRow>('SELECT * FROM rollouts WHERE id = $1 FOR UPDATE', [id]);
  return rows[0];
}

/** Adds one report into its counters row; 1 when it is a rollout device's first report. */
async function addReport(
  q: Queryable,
  deviceId: string,
  m: { model: string; version: string; role: ModelRole } & Partial<MetricCounters>,
  from: number,
  to: number,
): Promise<number> {
  const owners = await q.query<{
    rollout_id: string;
    version: string;
    role: string;
    reported_at: number | null;
  }>(
    `SELECT d.rollout_id, d.version, d.role, d.reported_at FROM rollout_devices d
     JOIN rollouts r ON r.id = d.rollout_id
     WHERE d.device_id = $1 AND (r.spec::jsonb ->> 'model') = $2 AND r.state IN ('running', 'paused')
       AND d.rolled_back_at IS NULL
     ORDER BY r.created_at DESC LIMIT 1`,
    [deviceId, m.model],
  );
  const owner = owners.rows[0];
  const rolloutId = owner?.rollout_id ?? '';
  const key = [rolloutId, deviceId, m.model, m.version, m.role];
  const prevRows = await q.query<CounterRow>(
    `SELECT * FROM model_counters WHERE rollout_id = $1 AND device_id = $2 AND model = $3 AND version = $4
     AND role = $5`,
    key,
  );
  const prev = prevRows.rows[0];
  const c = prev === undefined ? emptyCounters() : toCounters(prev).counters;
  addCounters(c, m);
  await q.query(
    `INSERT INTO model_counters (rollout_id, device_id, model, version, role, requests, errors, latency,
       latency_sum_ms, confidence_sum, confidence_count, compared, agreed, first_at, last_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
     ON CONFLICT (rollout_id, device_id, model, version, role) DO UPDATE SET
       requests = excluded.requests, errors = excluded.errors, latency = excluded.latency,
       latency_sum_ms = excluded.latency_sum_ms, confidence_sum = excluded.confidence_sum,
       confidence_count = excluded.confidence_count, compared = excluded.compared, agreed = excluded.agreed,
       first_at = excluded.first_at, last_at = excluded.last_at`,
    [
      ...key,
      c.requests,
      c.errors,
      JSON.stringify(c.latency),
      c.latencySumMs,
      c.confidenceSum,
      c.confidenceCount,
      c.compared,
      c.agreed,
      prev === undefined ? from : Math.min(prev.first_at, from),
      prev === undefined ? to : Math.max(prev.last_at, to),
    ],
  );
  if (owner && owner.reported_at === null && owner.version === m.version && owner.role === m.role) {
    await q.query(
      'UPDATE rollout_devices SET reported_at = $1 WHERE rollout_id = $2 AND device_id = $3 AND reported_at IS NULL',
      [Date.now(), rolloutId, deviceId],
    );
    return 1;
  }
  return 0;
}

/**
 * Folds telemetry into counters (see {@link RolloutStore.foldModelTelemetry}) in one
 * transaction that first takes a transaction-level advisory lock: two replicas folding at
 * once run one after the other, and the second starts from the first one's cursors, so no
 * event is ever counted twice.
 */
async function fold(pool: PgPool, limit: number): Promise<FoldResult> {
  return pool.tx(async (q) => {
    await q.query('SELECT pg_advisory_xact_lock($1)', [FOLD_LOCK]);
    const result: FoldResult = { events: 0, invalid: 0, firstReports: 0 };
    const behind = await q.query<{ device_id: string; epoch: string; hwm: number; cursor: number }>(
      `SELECT h.device_id, h.epoch, h.hwm, COALESCE(c.seq, 0) AS cursor FROM hwm h
       LEFT JOIN model_metrics_cursor c ON c.device_id = h.device_id AND c.epoch = h.epoch
       WHERE h.lane = 'telemetry' AND h.hwm > COALESCE(c.seq, 0)`,
    );
    for (const b of behind.rows) {
      const budget = limit - result.events - result.invalid;
      if (budget <= 0) break;
      const { rows } = await q.query<{ seq: number; body: string | null }>(
        `SELECT seq, body FROM events
         WHERE device_id = $1 AND epoch = $2 AND lane = 'telemetry' AND seq > $3 AND seq <= $4 AND type = $5
         ORDER BY seq LIMIT $6`,
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
          result.firstReports += await addReport(q, b.device_id, m, parsed.data.from, parsed.data.to);
        }
      }
      // Every event up to the hwm was read unless the budget cut the page short.
      const last = rows.length === budget ? (rows[rows.length - 1] as { seq: number }).seq : b.hwm;
      await q.query(
        `INSERT INTO model_metrics_cursor (device_id, epoch, seq) VALUES ($1, $2, $3)
         ON CONFLICT (device_id, epoch) DO UPDATE SET seq = excluded.seq`,
        [b.device_id, b.epoch, last],
      );
    }
    return result;
  });
}

/**
 * The {@link RolloutStore} area on PostgreSQL, the semantics of
 * `sqlite-rollouts.ts`: updates and timeline appends lock the rollout row, so replicas never
 * interleave a state change or collide on a timeline seq.
 */
export function postgresRolloutStore(pool: PgPool): RolloutStore {
  return {
    async createRollout(id, spec, atMs, created) {
      return pool.tx(async (q) => {
        await q.query(
          `INSERT INTO rollouts (id, spec, state, stage, stage_started_at, created_at, updated_at, reason)
           VALUES ($1, $2, 'running', 0, $3, $3, $3, NULL)`,
          [id, JSON.stringify(spec), atMs],
        );
        await appendOne(q, { ...created, rolloutId: id });
        return toRollout((await lockRollout(q, id)) as RolloutRow);
      });
    },
    async getRollout(id) {
      const { rows } = await pool.query<RolloutRow>('SELECT * FROM rollouts WHERE id = $1', [id]);
      return rows[0] === undefined ? undefined : toRollout(rows[0]);
    },
    async listRollouts() {
      const { rows } = await pool.query<RolloutRow>('SELECT * FROM rollouts ORDER BY created_at DESC, id');
      return rows.map(toRollout);
    },
    async updateRollout(id, update, event: NewEvent | undefined, atMs, expect) {
      return pool.tx(async (q) => {
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
        await q.query(
          'UPDATE rollouts SET state = $1, stage = $2, stage_started_at = $3, reason = $4, updated_at = $5 WHERE id = $6',
          [next.state, next.stage, next.stageStartedAt, next.reason, atMs, id],
        );
        if (event) await appendOne(q, { ...event, rolloutId: id });
        return { ...next, updatedAt: atMs };
      });
    },
    async appendRolloutEvents(events) {
      await pool.tx(async (q) => {
        const ids = [...new Set(events.map((e) => e.rolloutId))].sort();
        for (const id of ids) await lockRollout(q, id);
        for (const e of events) await appendOne(q, e);
      });
    },
    async listRolloutEvents(id) {
      const { rows } = await pool.query<Record<string, unknown>>(
        'SELECT * FROM rollout_events WHERE rollout_id = $1 ORDER BY seq',
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
    async putRolloutDevices(devices) {
      await pool.tx(async (q) => {
        for (const d of devices) {
          await q.query(
            `INSERT INTO rollout_devices (rollout_id, device_id, arm, version, role, stage, assigned_at, previous,
               reported_at, excluded_at, rolled_back_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
             ON CONFLICT (rollout_id, device_id) DO UPDATE SET arm = excluded.arm, version = excluded.version,
               role = excluded.role, stage = excluded.stage, assigned_at = excluded.assigned_at,
               previous = excluded.previous, reported_at = excluded.reported_at,
               excluded_at = excluded.excluded_at, rolled_back_at = excluded.rolled_back_at`,
            [
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
            ],
          );
        }
      });
    },
    async listRolloutDevices(id) {
      const { rows } = await pool.query<DeviceRow>(
        'SELECT * FROM rollout_devices WHERE rollout_id = $1 ORDER BY assigned_at, device_id',
        [id],
      );
      return rows.map(toDevice);
    },
    foldModelTelemetry: (limit) => fold(pool, limit),
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
        where.push(`${column} = $${params.length}`);
      }
      const { rows } = await pool.query<CounterRow>(
        `SELECT * FROM model_counters ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
         ORDER BY model, version, role, device_id, rollout_id`,
        params,
      );
      return rows.map(toCounters);
    },
  };
}
