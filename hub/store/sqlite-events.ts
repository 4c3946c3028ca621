import type { Database, Statement } from 'better-sqlite3';
import { type Lane, OutpostError, type UplinkBatch } from '../../shared/index.js';
import { SqliteSkips } from './sqlite-skips.js';
import type { EventQuery, IngestResult, SkipRange, SkipTotal, StoredEvent } from './types.js';

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

/**
 * Event ingestion and reads of the SQLite hub store, split from `sqlite.ts` to keep one
 * concern per file. Methods are synchronous; the store wraps them in its async interface.
 */
export class SqliteEvents {
  private readonly deviceExists: Statement<[string], { one: number }>;
  private readonly readHwm: Statement<[string, string, string], { hwm: number }>;
  private readonly writeHwm: Statement<[string, string, string, number]>;
  private readonly insertEvent: Statement<
    [string, string, string, number, string, number, string | null, number]
  >;
  private readonly countAll: Statement<[], { n: number }>;
  private readonly countDevice: Statement<[string], { n: number }>;
  private readonly ingestTx: (deviceId: string, batch: UplinkBatch, receivedAtMs: number) => IngestResult;
  private readonly skips: SqliteSkips;

  constructor(private readonly db: Database) {
    this.skips = new SqliteSkips(db);
    this.deviceExists = db.prepare('SELECT 1 AS one FROM devices WHERE id = ?');
    this.readHwm = db.prepare('SELECT hwm FROM hwm WHERE device_id = ? AND epoch = ? AND lane = ?');
    this.writeHwm = db.prepare(
      `INSERT INTO hwm (device_id, epoch, lane, hwm) VALUES (?, ?, ?, ?)
       ON CONFLICT (device_id, epoch, lane) DO UPDATE SET hwm = excluded.hwm`,
    );
    this.insertEvent = db.prepare(
      `INSERT INTO events (device_id, epoch, lane, seq, type, at, body, received_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    this.countAll = db.prepare('SELECT COUNT(*) AS n FROM events');
    this.countDevice = db.prepare('SELECT COUNT(*) AS n FROM events WHERE device_id = ?');
    this.ingestTx = db.transaction((deviceId: string, batch: UplinkBatch, receivedAtMs: number) =>
      this.ingestInTx(deviceId, batch, receivedAtMs),
    );
  }

  /**
   * docs/architecture.md "Delivery contract": reads the high-water mark, skips what is at or below it,
   * stores consecutive events above it, stops at the first gap, and writes the new mark —
   * all in one transaction (the caller acks only after this returns).
   */
  ingest(deviceId: string, batch: UplinkBatch, receivedAtMs: number): IngestResult {
    return this.ingestTx(deviceId, batch, receivedAtMs);
  }

  private ingestInTx(deviceId: string, batch: UplinkBatch, receivedAtMs: number): IngestResult {
    if (this.deviceExists.get(deviceId) === undefined) {
      throw new OutpostError('HUB_DEVICE_NOT_FOUND', `no device ${deviceId}`);
    }
    const start = this.readHwm.get(deviceId, batch.epoch, batch.lane)?.hwm ?? 0;
    let hwm = start;
    let stored = 0;
    let duplicates = 0;
    let skipped = 0;
    const dropped = batch.dropped;
    // Every seq up to dropped.through that the hub lacks was dropped by the agent
    // (drops take a prefix of what it had not seen acknowledged); skip it, never wait for it.
    if (dropped !== undefined && dropped.through > hwm) {
      this.skips.record(deviceId, batch.epoch, batch.lane, hwm + 1, dropped.through, receivedAtMs);
      skipped = dropped.through - hwm;
      hwm = dropped.through;
    }
    for (const event of batch.events) {
      if (event.seq <= hwm) {
        duplicates++;
        continue;
      }
      // A gap: the agent resends from hwm+1 after the ack, so nothing past it is kept.
      if (event.seq !== hwm + 1) break;
      const body = event.body === undefined ? null : JSON.stringify(event.body);
      this.insertEvent.run(
        deviceId,
        batch.epoch,
        batch.lane,
        event.seq,
        event.type,
        event.at,
        body,
        receivedAtMs,
      );
      hwm = event.seq;
      stored++;
    }
    if (hwm !== start) this.writeHwm.run(deviceId, batch.epoch, batch.lane, hwm);
    if (dropped === undefined) return { hwm, stored, duplicates };
    const answer = this.skips.answer(deviceId, batch.epoch, batch.lane, dropped.from, dropped.through);
    return { hwm, stored, duplicates, skipped, dropped: answer };
  }

  /** Every skipped range of a device. */
  listSkips(deviceId: string): SkipRange[] {
    return this.skips.list(deviceId);
  }

  /** Seqs skipped per (epoch, lane) of a device. */
  skipTotals(deviceId: string): SkipTotal[] {
    return this.skips.total(deviceId);
  }

  /** Events of one device in `(epoch, lane, seq)` order, filtered and paged by `query`. */
  list(deviceId: string, query: EventQuery): StoredEvent[] {
    const where = ['device_id = ?'];
    const params: Array<string | number> = [deviceId];
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
    const rows = this.db
      .prepare<Array<string | number>, EventRow>(
        `SELECT * FROM events WHERE ${where.join(' AND ')} ORDER BY epoch, lane, seq LIMIT ?`,
      )
      .all(...params);
    return rows.map(toEvent);
  }

  /** Stored events of one device, or of all. */
  count(deviceId?: string): number {
    const row = deviceId === undefined ? this.countAll.get() : this.countDevice.get(deviceId);
    return row?.n ?? 0;
  }
}

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
