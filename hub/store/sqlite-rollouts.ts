import type { Database, Statement } from 'better-sqlite3';
import {
  addCounters,
  emptyCounters,
  type MetricCounters,
  MODEL_TELEMETRY_EVENT,
  type ModelRole,
  ModelTelemetrySchema,
  OutpostError,
  type RolloutRequest,
  type RolloutState,
} from '../../shared/index.js';
import {
  type CounterRow,
  type DeviceRow,
  type RolloutRow,
  toCounters,
  toDevice,
  toRollout,
} from './rollout-rows.js';
import type {
  FoldResult,
  ModelCounterRow,
  RolloutDevice,
  RolloutEvent,
  RolloutRecord,
  RolloutStore,
  RolloutUpdate,
} from './rollout-types.js';

type NewEvent = Omit<RolloutEvent, 'rolloutId' | 'seq'>;

/** Statements of {@link SqliteRollouts}, prepared once. */
const SQL = {
  insert: `INSERT INTO rollouts (id, spec, state, stage, stage_started_at, created_at, updated_at, reason)
         VALUES (?, ?, 'running', 0, ?, ?, ?, NULL)`,
  get: 'SELECT * FROM rollouts WHERE id = ?',
  list: 'SELECT * FROM rollouts ORDER BY created_at DESC, id',
  update: `UPDATE rollouts SET state = ?, stage = ?, stage_started_at = ?, reason = ?, updated_at = ? WHERE id = ?`,
  nextSeq: 'SELECT COALESCE(MAX(seq), 0) + 1 AS seq FROM rollout_events WHERE rollout_id = ?',
  insertEvent: `INSERT INTO rollout_events (rollout_id, seq, at, kind, stage, message, detail) VALUES (?, ?, ?, ?, ?, ?, ?)`,
  events: 'SELECT * FROM rollout_events WHERE rollout_id = ? ORDER BY seq',
  putDevice: `INSERT OR REPLACE INTO rollout_devices
           (rollout_id, device_id, arm, version, role, stage, assigned_at, previous, reported_at, excluded_at, rolled_back_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  devices: 'SELECT * FROM rollout_devices WHERE rollout_id = ? ORDER BY assigned_at, device_id',
  behind: `SELECT h.device_id, h.epoch, h.hwm, COALESCE(c.seq, 0) AS cursor FROM hwm h
         LEFT JOIN model_metrics_cursor c ON c.device_id = h.device_id AND c.epoch = h.epoch
         WHERE h.lane = 'telemetry' AND h.hwm > COALESCE(c.seq, 0)`,
  newEvents: `SELECT seq, body FROM events
         WHERE device_id = ? AND epoch = ? AND lane = 'telemetry' AND seq > ? AND seq <= ? AND type = ?
         ORDER BY seq LIMIT ?`,
  moveCursor: `INSERT INTO model_metrics_cursor (device_id, epoch, seq) VALUES (?, ?, ?)
         ON CONFLICT (device_id, epoch) DO UPDATE SET seq = excluded.seq`,
  attribute: `SELECT d.rollout_id, d.version, d.role, d.reported_at FROM rollout_devices d
         JOIN rollouts r ON r.id = d.rollout_id
         WHERE d.device_id = ? AND json_extract(r.spec, '$.model') = ? AND r.state IN ('running', 'paused')
           AND d.rolled_back_at IS NULL
         ORDER BY r.created_at DESC LIMIT 1`,
  markReported:
    'UPDATE rollout_devices SET reported_at = ? WHERE rollout_id = ? AND device_id = ? AND reported_at IS NULL',
  getCounter: `SELECT * FROM model_counters WHERE rollout_id = ? AND device_id = ? AND model = ? AND version = ? AND role = ?`,
  putCounter: `INSERT OR REPLACE INTO model_counters (rollout_id, device_id, model, version, role, requests, errors, latency,
           latency_sum_ms, confidence_sum, confidence_count, compared, agreed, first_at, last_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
} as const;

/**
 * Rollouts, their devices and timeline, and model-metrics aggregation in the SQLite hub
 * store. Synchronous; the store wraps it in its async interface.
 */
export class SqliteRollouts {
  private readonly s: Record<keyof typeof SQL, Statement>;
  private readonly foldTx: (limit: number) => FoldResult;
  private readonly updateTx: (
    id: string,
    update: RolloutUpdate,
    event: NewEvent | undefined,
    atMs: number,
    expect?: readonly RolloutState[],
  ) => RolloutRecord;

  constructor(private readonly db: Database) {
    this.s = Object.fromEntries(
      Object.entries(SQL).map(([name, text]) => [name, db.prepare(text)]),
    ) as Record<keyof typeof SQL, Statement>;
    this.foldTx = db.transaction((limit: number) => this.foldInTx(limit));
    this.updateTx = db.transaction(
      (id: string, update: RolloutUpdate, event: NewEvent | undefined, atMs: number, expect) => {
        const row = this.s.get.get(id) as RolloutRow | undefined;
        if (row === undefined) throw new OutpostError('HUB_ROLLOUT_NOT_FOUND', `no rollout ${id}`);
        const current = toRollout(row);
        if (expect !== undefined && !expect.includes(current.state)) {
          throw new OutpostError(
            'HUB_ROLLOUT_CONFLICT',
            `rollout ${id} is ${current.state}; this needs it ${expect.join(' or ')}`,
          );
        }
        const next = { ...current, ...update };
        this.s.update.run(next.state, next.stage, next.stageStartedAt, next.reason, atMs, id);
        if (event) this.appendOne({ ...event, rolloutId: id });
        return { ...next, updatedAt: atMs };
      },
    );
  }

  private appendOne(e: Omit<RolloutEvent, 'seq'>): void {
    const { seq } = this.s.nextSeq.get(e.rolloutId) as { seq: number };
    this.s.insertEvent.run(
      e.rolloutId,
      seq,
      e.at,
      e.kind,
      e.stage,
      e.message,
      JSON.stringify(e.detail ?? null),
    );
  }

  create(id: string, spec: RolloutRequest, atMs: number, created: NewEvent): RolloutRecord {
    return this.db.transaction(() => {
      this.s.insert.run(id, JSON.stringify(spec), atMs, atMs, atMs);
      this.appendOne({ ...created, rolloutId: id });
      return toRollout(this.s.get.get(id) as RolloutRow);
    })();
  }

  get(id: string): RolloutRecord | undefined {
    const row = this.s.get.get(id) as RolloutRow | undefined;
    return row === undefined ? undefined : toRollout(row);
  }

  list(): RolloutRecord[] {
    return (this.s.list.all() as RolloutRow[]).map(toRollout);
  }

  update(
    id: string,
    update: RolloutUpdate,
    event: NewEvent | undefined,
    atMs: number,
    expect?: readonly RolloutState[],
  ): RolloutRecord {
    return this.updateTx(id, update, event, atMs, expect);
  }

  appendEvents(events: ReadonlyArray<Omit<RolloutEvent, 'seq'>>): void {
    this.db.transaction(() => {
      for (const e of events) this.appendOne(e);
    })();
  }

  events(id: string): RolloutEvent[] {
    return (this.s.events.all(id) as Array<Record<string, unknown>>).map((r) => ({
      rolloutId: r.rollout_id as string,
      seq: r.seq as number,
      at: r.at as number,
      kind: r.kind as string,
      stage: r.stage as number,
      message: r.message as string,
      detail: JSON.parse(r.detail as string) as unknown,
    }));
  }

  putDevices(devices: readonly RolloutDevice[]): void {
    this.db.transaction(() => {
      for (const d of devices) {
        this.s.putDevice.run(
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
        );
      }
    })();
  }

  devices(id: string): RolloutDevice[] {
    return (this.s.devices.all(id) as DeviceRow[]).map(toDevice);
  }

  fold(limit: number): FoldResult {
    return this.foldTx(limit);
  }

  private foldInTx(limit: number): FoldResult {
    const result: FoldResult = { events: 0, invalid: 0, firstReports: 0 };
    const behind = this.s.behind.all() as Array<{
      device_id: string;
      epoch: string;
      hwm: number;
      cursor: number;
    }>;
    for (const b of behind) {
      const budget = limit - result.events - result.invalid;
      if (budget <= 0) break;
      const rows = this.s.newEvents.all(
        b.device_id,
        b.epoch,
        b.cursor,
        b.hwm,
        MODEL_TELEMETRY_EVENT,
        budget,
      ) as Array<{
        seq: number;
        body: string | null;
      }>;
      for (const row of rows) {
        const parsed = ModelTelemetrySchema.safeParse(row.body === null ? null : JSON.parse(row.body));
        if (!parsed.success) {
          result.invalid++;
          continue;
        }
        result.events++;
        for (const m of parsed.data.models) {
          result.firstReports += this.addReport(b.device_id, m, parsed.data.from, parsed.data.to);
        }
      }
      // Every event up to the hwm was read unless the budget cut the page short.
      const last = rows.length === budget ? (rows[rows.length - 1] as { seq: number }).seq : b.hwm;
      this.s.moveCursor.run(b.device_id, b.epoch, last);
    }
    return result;
  }

  /** Adds one report into its counters row; 1 when it is a rollout device's first report. */
  private addReport(
    deviceId: string,
    m: { model: string; version: string; role: ModelRole } & Partial<MetricCounters>,
    from: number,
    to: number,
  ): number {
    const owner = this.s.attribute.get(deviceId, m.model) as
      | { rollout_id: string; version: string; role: string; reported_at: number | null }
      | undefined;
    const rolloutId = owner?.rollout_id ?? '';
    const key = [rolloutId, deviceId, m.model, m.version, m.role] as const;
    const prev = this.s.getCounter.get(...key) as CounterRow | undefined;
    const c = prev === undefined ? emptyCounters() : toCounters(prev).counters;
    addCounters(c, m);
    this.s.putCounter.run(
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
    );
    if (owner && owner.reported_at === null && owner.version === m.version && owner.role === m.role) {
      this.s.markReported.run(Date.now(), rolloutId, deviceId);
      return 1;
    }
    return 0;
  }

  counters(query: { rolloutId?: string; model?: string; deviceId?: string }): ModelCounterRow[] {
    const where: string[] = [];
    const params: string[] = [];
    if (query.rolloutId !== undefined) {
      where.push('rollout_id = ?');
      params.push(query.rolloutId);
    }
    if (query.model !== undefined) {
      where.push('model = ?');
      params.push(query.model);
    }
    if (query.deviceId !== undefined) {
      where.push('device_id = ?');
      params.push(query.deviceId);
    }
    const sql = `SELECT * FROM model_counters ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
      ORDER BY model, version, role, device_id, rollout_id`;
    return this.db
      .prepare<string[], CounterRow>(sql)
      .all(...params)
      .map(toCounters);
  }
}

/**
 * The {@link RolloutStore} methods of the SQLite hub store, async over {@link SqliteRollouts};
 * `open()` throws `HUB_STORE_UNAVAILABLE` once the store is closed.
 */
export function sqliteRolloutStore(db: Database, open: () => unknown): RolloutStore {
  const r = new SqliteRollouts(db);
  return {
    createRollout: async (id, spec, atMs, created) => {
      open();
      return r.create(id, spec, atMs, created);
    },
    getRollout: async (id) => {
      open();
      return r.get(id);
    },
    listRollouts: async () => {
      open();
      return r.list();
    },
    updateRollout: async (id, update, event, atMs, expect) => {
      open();
      return r.update(id, update, event, atMs, expect);
    },
    appendRolloutEvents: async (events) => {
      open();
      return r.appendEvents(events);
    },
    listRolloutEvents: async (id) => {
      open();
      return r.events(id);
    },
    putRolloutDevices: async (devices) => {
      open();
      return r.putDevices(devices);
    },
    listRolloutDevices: async (id) => {
      open();
      return r.devices(id);
    },
    foldModelTelemetry: async (limit) => {
      open();
      return r.fold(limit);
    },
    modelCounters: async (query) => {
      open();
      return r.counters(query);
    },
  };
}
