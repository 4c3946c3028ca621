import {
  DEVICE_TELEMETRY_EVENT,
  type DeviceTelemetry,
  DeviceTelemetrySchema,
  DRIFT_EVENT,
  type DriftSummary,
  DriftTelemetrySchema,
  formatIssues,
} from '../../shared/index.js';
import { addDeviceReport, type DeviceTelemetryEntry } from '../telemetry/device-book.js';
import { driftArea, evaluateDriftIn, foldDriftSummaries, lockTelemetryFold } from './drift.js';
import { type Column, chunks, placeholders, type Sql } from './sql/seam.js';
import type { TelemetryFoldOptions, TelemetryFoldResult, TelemetryStore } from './telemetry-types.js';

interface EntryRow {
  device_id: string;
  received_at: number;
  latest: string;
  history: string;
}

const toEntry = (r: EntryRow): DeviceTelemetryEntry => ({
  deviceId: r.device_id,
  receivedAt: r.received_at,
  latest: JSON.parse(r.latest) as DeviceTelemetry,
  history: JSON.parse(r.history) as DeviceTelemetryEntry['history'],
});

const ENTRY_COLUMNS: Column[] = [
  ['device_id', 'TEXT'],
  ['received_at', 'BIGINT'],
  ['latest', 'TEXT'],
  ['history', 'TEXT'],
];
const REPLACE_ENTRY =
  'ON CONFLICT (device_id) DO UPDATE SET received_at = excluded.received_at, latest = excluded.latest, history = excluded.history';
const CURSOR_COLUMNS: Column[] = [
  ['device_id', 'TEXT'],
  ['epoch', 'TEXT'],
  ['seq', 'BIGINT'],
];
const COUNTER_COLUMNS: Column[] = [
  ['name', 'TEXT'],
  ['value', 'BIGINT'],
];

/**
 * One fold pass (see {@link TelemetryStore.foldTelemetry}), inside a transaction: the lanes'
 * marks the fold is behind, then each (device, epoch)'s new events up to the mark read with
 * it, in its own index range (never a sort over the whole backlog), until the pass's limit;
 * a (device, epoch) cut at the limit resumes after its last event read.
 */
async function fold(q: Sql, o: TelemetryFoldOptions): Promise<TelemetryFoldResult> {
  await lockTelemetryFold(q);
  const result: TelemetryFoldResult = { devices: 0, drift: 0, invalid: [], evaluations: [], more: false };
  const behind = await q.all<{ device_id: string; epoch: string; hwm: number; cursor: number }>(
    `SELECT h.device_id, h.epoch, h.hwm, COALESCE(c.seq, 0) AS cursor FROM hwm h
     LEFT JOIN telemetry_cursor c ON c.device_id = h.device_id AND c.epoch = h.epoch
     WHERE h.lane = 'telemetry' AND h.hwm > COALESCE(c.seq, 0)
     ORDER BY h.device_id, h.epoch`,
  );
  if (behind.length === 0) return result;
  const rows: Array<{ device_id: string; type: string; body: string | null; received_at: number }> = [];
  const cursors: Array<[deviceId: string, epoch: string, seq: number]> = [];
  for (const b of behind) {
    const budget = o.limit - rows.length;
    if (budget <= 0) {
      result.more = true;
      break;
    }
    // Events up to the mark read above were committed with it: all of them are visible here.
    const events = await q.all<{ seq: number; type: string; body: string | null; received_at: number }>(
      `SELECT seq, type, body, received_at FROM events
       WHERE device_id = ? AND epoch = ? AND lane = 'telemetry' AND seq > ? AND seq <= ? AND type IN (?, ?)
       ORDER BY seq LIMIT ?`,
      [b.device_id, b.epoch, b.cursor, b.hwm, DEVICE_TELEMETRY_EVENT, DRIFT_EVENT, budget],
    );
    for (const e of events) rows.push({ device_id: b.device_id, ...e });
    const cut = events.length === budget;
    if (cut) result.more = true;
    cursors.push([b.device_id, b.epoch, cut ? (events.at(-1) as { seq: number }).seq : b.hwm]);
  }

  const reports = new Map<string, Array<{ report: DeviceTelemetry; receivedAt: number }>>();
  const summaries: Array<{ deviceId: string; receivedAt: number; summary: DriftSummary }> = [];
  const invalid = { device: 0, drift: 0 };
  for (const r of rows) {
    let body: unknown = null;
    try {
      body = r.body === null ? null : JSON.parse(r.body);
    } catch {
      body = undefined;
    }
    if (r.type === DEVICE_TELEMETRY_EVENT) {
      const parsed = DeviceTelemetrySchema.safeParse(body);
      if (!parsed.success) {
        invalid.device++;
        result.invalid.push({ deviceId: r.device_id, kind: 'device', problems: formatIssues(parsed.error) });
        continue;
      }
      const list = reports.get(r.device_id) ?? [];
      list.push({ report: parsed.data, receivedAt: r.received_at });
      reports.set(r.device_id, list);
      result.devices++;
    } else {
      const parsed = DriftTelemetrySchema.safeParse(body);
      if (!parsed.success) {
        invalid.drift++;
        result.invalid.push({ deviceId: r.device_id, kind: 'drift', problems: formatIssues(parsed.error) });
        continue;
      }
      for (const summary of parsed.data.models)
        summaries.push({ deviceId: r.device_id, receivedAt: r.received_at, summary });
      result.drift++;
    }
  }

  // Device entries: read together, folded in event order, written together.
  if (reports.size > 0) {
    const entries = new Map<string, DeviceTelemetryEntry>();
    for (const ids of chunks([...reports.keys()])) {
      const stored = await q.all<EntryRow>(
        `SELECT * FROM device_telemetry WHERE device_id IN ${placeholders(ids.length)}`,
        ids,
      );
      for (const row of stored) entries.set(row.device_id, toEntry(row));
    }
    const out = [];
    for (const [deviceId, list] of reports) {
      let entry = entries.get(deviceId);
      for (const { report, receivedAt } of list) entry = addDeviceReport(entry, deviceId, report, receivedAt);
      if (entry === undefined) continue;
      out.push([deviceId, entry.receivedAt, JSON.stringify(entry.latest), JSON.stringify(entry.history)]);
    }
    await q.insertMany('device_telemetry', ENTRY_COLUMNS, out, REPLACE_ENTRY);
  }

  // Drift: buckets, then one evaluation per model version that got summaries.
  const touched = await foldDriftSummaries(q, summaries, o.drift);
  for (const { model, version } of touched)
    result.evaluations.push(await evaluateDriftIn(q, model, version, o.drift, o.now));

  const counted = Object.entries(invalid).filter(([, n]) => n > 0);
  if (counted.length > 0) {
    await q.insertMany(
      'telemetry_counters',
      COUNTER_COLUMNS,
      counted.map(([kind, n]) => [`invalid.${kind}`, n]),
      'ON CONFLICT (name) DO UPDATE SET value = telemetry_counters.value + excluded.value',
    );
  }
  await q.insertMany(
    'telemetry_cursor',
    CURSOR_COLUMNS,
    cursors,
    'ON CONFLICT (device_id, epoch) DO UPDATE SET seq = excluded.seq',
  );
  return result;
}

/**
 * Device telemetry and drift as the hub keeps them (see {@link TelemetryStore}): the fold,
 * the devices' entries and counters here, baselines, windows and alerts in `drift.ts`.
 */
export function telemetryArea(db: Sql): TelemetryStore {
  return {
    ...driftArea(db),
    foldTelemetry: (options) => db.tx((q) => fold(q, options)),
    async getDeviceTelemetry(deviceId) {
      const row = await db.get<EntryRow>('SELECT * FROM device_telemetry WHERE device_id = ?', [deviceId]);
      return row === undefined ? undefined : toEntry(row);
    },
    async listDeviceTelemetry() {
      const rows = await db.all<Omit<EntryRow, 'history'>>(
        'SELECT device_id, received_at, latest FROM device_telemetry ORDER BY device_id',
      );
      return rows.map((r) => ({
        deviceId: r.device_id,
        receivedAt: r.received_at,
        latest: JSON.parse(r.latest) as DeviceTelemetry,
      }));
    },
    async telemetryCounts() {
      const devices = await db.get<{ n: number }>('SELECT COUNT(*) AS n FROM device_telemetry');
      const counters = await db.all<{ name: string; value: number }>(
        'SELECT name, value FROM telemetry_counters',
      );
      const count = (name: string) => Number(counters.find((c) => c.name === name)?.value ?? 0);
      return {
        devices: devices?.n ?? 0,
        invalid: { device: count('invalid.device'), drift: count('invalid.drift') },
      };
    },
  };
}
