import { type Lane, OutpostError, type UplinkBatch } from '../../shared/index.js';
import { answerDrop, type LaneKey, recordSkip } from './skips.js';
import type { Column, Sql, SqlValue } from './sql/seam.js';
import type { EventQuery, HubStore, IngestResult, StoredEvent } from './types.js';

interface EventRow {
  device_id: string;
  epoch: string;
  lane: string;
  seq: number;
  type: string;
  at: number;
  body: string | null;
  received_at: number;
}

const EVENT_COLUMNS: Column[] = [
  ['device_id', 'TEXT'],
  ['epoch', 'TEXT'],
  ['lane', 'TEXT'],
  ['seq', 'BIGINT'],
  ['type', 'TEXT'],
  ['at', 'BIGINT'],
  ['body', 'TEXT'],
  ['received_at', 'BIGINT'],
];

function toEvent(row: EventRow): StoredEvent {
  return {
    deviceId: row.device_id,
    epoch: row.epoch,
    lane: row.lane as Lane,
    seq: row.seq,
    type: row.type,
    at: row.at,
    body: row.body === null ? null : JSON.parse(row.body),
    receivedAt: row.received_at,
  };
}

/** The event methods of {@link HubStore}. */
export type EventArea = Pick<HubStore, 'ingestBatch' | 'listEvents' | 'countEvents'>;

/**
 * Uplink events, stored exactly once (docs/architecture.md "Delivery contract") even with
 * several hub replicas ingesting at once: in one transaction the `(device, epoch, lane)` row
 * of `hwm` is locked (created first when missing), so a second replica holding the same batch
 * waits, then sees the advanced mark and counts the events as duplicates.
 */
export function eventArea(db: Sql): EventArea {
  return {
    ingestBatch(deviceId: string, batch: UplinkBatch, receivedAtMs: number): Promise<IngestResult> {
      return db.tx((q) => ingest(q, deviceId, batch, receivedAtMs));
    },

    async listEvents(deviceId: string, query: EventQuery): Promise<StoredEvent[]> {
      const where = ['device_id = ?'];
      const params: SqlValue[] = [deviceId];
      if (query.epoch !== undefined) {
        where.push('epoch = ?');
        params.push(query.epoch);
      }
      if (query.lane !== undefined) {
        where.push('lane = ?');
        params.push(query.lane);
      }
      if (query.after !== undefined) {
        where.push('(epoch, lane, seq) > (?, ?, ?)');
        params.push(query.after.epoch, query.after.lane, query.after.seq);
      }
      params.push(query.limit);
      const rows = await db.all<EventRow>(
        `SELECT * FROM events WHERE ${where.join(' AND ')} ORDER BY epoch, lane, seq LIMIT ?`,
        params,
      );
      return rows.map(toEvent);
    },

    async countEvents(deviceId?: string): Promise<number> {
      const row =
        deviceId === undefined
          ? await db.get<{ n: number }>('SELECT COUNT(*) AS n FROM events')
          : await db.get<{ n: number }>('SELECT COUNT(*) AS n FROM events WHERE device_id = ?', [deviceId]);
      return row?.n ?? 0;
    },
  };
}

/**
 * Skips what is at or below the high-water mark, stores consecutive events above it, stops
 * at the first gap, and writes the new mark (the caller acks only after the commit).
 */
async function ingest(
  q: Sql,
  deviceId: string,
  batch: UplinkBatch,
  receivedAtMs: number,
): Promise<IngestResult> {
  const found = await q.get('SELECT 1 AS one FROM devices WHERE id = ?', [deviceId]);
  if (found === undefined) throw new OutpostError('HUB_DEVICE_NOT_FOUND', `no device ${deviceId}`);
  const key: LaneKey = { deviceId, epoch: batch.epoch, lane: batch.lane };
  const where = 'device_id = ? AND epoch = ? AND lane = ?';
  const keyParams = [deviceId, batch.epoch, batch.lane];
  const lock = `SELECT hwm FROM hwm WHERE ${where}${q.dialect.forUpdate}`;
  let locked = await q.get<{ hwm: number }>(lock, keyParams);
  if (locked === undefined) {
    // The lane's first batch: create its mark (a concurrent creator waits for, or wins over,
    // this one), then lock it.
    await q.run(
      'INSERT INTO hwm (device_id, epoch, lane, hwm) VALUES (?, ?, ?, 0) ON CONFLICT DO NOTHING',
      keyParams,
    );
    locked = await q.get<{ hwm: number }>(lock, keyParams);
  }
  const start = locked?.hwm ?? 0;
  let hwm = start;
  let duplicates = 0;
  let skipped = 0;
  const dropped = batch.dropped;
  // Every seq up to dropped.through that the hub lacks was dropped by the agent
  // (drops take a prefix of what it had not seen acknowledged); skip it, never wait for it.
  if (dropped !== undefined && dropped.through > hwm) {
    await recordSkip(q, key, hwm + 1, dropped.through, receivedAtMs);
    skipped = dropped.through - hwm;
    hwm = dropped.through;
  }
  const rows: SqlValue[][] = [];
  for (const event of batch.events) {
    if (event.seq <= hwm) {
      duplicates++;
      continue;
    }
    // A gap: the agent resends from hwm+1 after the ack, so nothing past it is kept.
    if (event.seq !== hwm + 1) break;
    const body = event.body === undefined ? null : JSON.stringify(event.body);
    rows.push([deviceId, batch.epoch, batch.lane, event.seq, event.type, event.at, body, receivedAtMs]);
    hwm = event.seq;
  }
  await q.insertMany('events', EVENT_COLUMNS, rows);
  if (hwm !== start) await q.run(`UPDATE hwm SET hwm = ? WHERE ${where}`, [hwm, ...keyParams]);
  const stored = rows.length;
  if (dropped === undefined) return { hwm, stored, duplicates };
  const answer = await answerDrop(q, key, dropped.from, dropped.through);
  return { hwm, stored, duplicates, skipped, dropped: answer };
}
