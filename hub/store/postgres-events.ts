import { type Lane, OutpostError, type UplinkBatch } from '../../shared/index.js';
import type { PgPool } from './postgres-pool.js';
import { postgresSkips } from './postgres-skips.js';
import type { EventQuery, IngestResult, StoredEvent } from './types.js';

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
 * docs/architecture.md "Delivery contract" on PostgreSQL, exactly once even with several hub replicas
 * ingesting at once: in one transaction, the `(device, epoch, lane)` row of
 * `hwm` is created if missing (`INSERT … ON CONFLICT DO NOTHING`) and locked
 * (`SELECT … FOR UPDATE`), so a second replica holding the same batch waits, then sees the
 * advanced mark and counts the events as duplicates. Semantics otherwise as SQLite: skip at or
 * below the mark, store consecutive events above it, stop at the first gap.
 */
export async function ingestPostgres(
  pool: PgPool,
  deviceId: string,
  batch: UplinkBatch,
  receivedAtMs: number,
): Promise<IngestResult> {
  return pool.tx(async (q) => {
    const device = await q.query('SELECT 1 FROM devices WHERE id = $1', [deviceId]);
    if (device.rowCount === 0) throw new OutpostError('HUB_DEVICE_NOT_FOUND', `no device ${deviceId}`);
    const key = [deviceId, batch.epoch, batch.lane];
    await q.query(
      'INSERT INTO hwm (device_id, epoch, lane, hwm) VALUES ($1, $2, $3, 0) ON CONFLICT DO NOTHING',
      key,
    );
    const locked = await q.query<{ hwm: number }>(
      'SELECT hwm FROM hwm WHERE device_id = $1 AND epoch = $2 AND lane = $3 FOR UPDATE',
      key,
    );
    const start = locked.rows[0]?.hwm ?? 0;
    let hwm = start;
    let duplicates = 0;
    let skipped = 0;
    const dropped = batch.dropped;
    // Seqs up to dropped.through the hub lacks were dropped by the agent; skip them.
    if (dropped !== undefined && dropped.through > hwm) {
      await postgresSkips.record(
        q,
        deviceId,
        batch.epoch,
        batch.lane,
        hwm + 1,
        dropped.through,
        receivedAtMs,
      );
      skipped = dropped.through - hwm;
      hwm = dropped.through;
    }
    const seqs: number[] = [];
    const types: string[] = [];
    const ats: number[] = [];
    const bodies: Array<string | null> = [];
    for (const event of batch.events) {
      if (event.seq <= hwm) {
        duplicates++;
        continue;
      }
      // A gap: the agent resends from hwm+1 after the ack, so nothing past it is kept.
      if (event.seq !== hwm + 1) break;
      seqs.push(event.seq);
      types.push(event.type);
      ats.push(event.at);
      bodies.push(event.body === undefined ? null : JSON.stringify(event.body));
      hwm = event.seq;
    }
    if (seqs.length > 0) {
      await q.query(
        `INSERT INTO events (device_id, epoch, lane, seq, type, at, body, received_at)
         SELECT $1, $2, $3, s, t, a, b, $8
         FROM unnest($4::BIGINT[], $5::TEXT[], $6::BIGINT[], $7::TEXT[]) AS u(s, t, a, b)`,
        [...key, seqs, types, ats, bodies, receivedAtMs],
      );
    }
    if (hwm !== start) {
      await q.query('UPDATE hwm SET hwm = $4 WHERE device_id = $1 AND epoch = $2 AND lane = $3', [
        ...key,
        hwm,
      ]);
    }
    const stored = seqs.length;
    if (dropped === undefined) return { hwm, stored, duplicates };
    const answer = await postgresSkips.answer(
      q,
      deviceId,
      batch.epoch,
      batch.lane,
      dropped.from,
      dropped.through,
    );
    return { hwm, stored, duplicates, skipped, dropped: answer };
  });
}

/** Events of one device in `(epoch, lane, seq)` order, filtered and paged by `query`. */
export async function listPostgresEvents(
  pool: PgPool,
  deviceId: string,
  query: EventQuery,
): Promise<StoredEvent[]> {
  const where = ['device_id = $1'];
  const params: Array<string | number> = [deviceId];
  const param = (value: string | number) => {
    params.push(value);
    return `$${params.length}`;
  };
  if (query.epoch !== undefined) where.push(`epoch = ${param(query.epoch)}`);
  if (query.lane !== undefined) where.push(`lane = ${param(query.lane)}`);
  if (query.after !== undefined) {
    const { epoch, lane, seq } = query.after;
    where.push(`(epoch, lane, seq) > (${param(epoch)}, ${param(lane)}, ${param(seq)})`);
  }
  const limit = param(query.limit);
  const { rows } = await pool.query<EventRow>(
    `SELECT * FROM events WHERE ${where.join(' AND ')} ORDER BY epoch, lane, seq LIMIT ${limit}`,
    params,
  );
  return rows.map((row) => ({
    deviceId: row.device_id,
    epoch: row.epoch,
    lane: row.lane as Lane,
    seq: row.seq,
    type: row.type,
    at: row.at,
    body: row.body === null ? null : JSON.parse(row.body),
    receivedAt: row.received_at,
  }));
}

/** Stored events of one device, or of all. */
export async function countPostgresEvents(pool: PgPool, deviceId?: string): Promise<number> {
  const { rows } =
    deviceId === undefined
      ? await pool.query<{ n: number }>('SELECT COUNT(*) AS n FROM events')
      : await pool.query<{ n: number }>('SELECT COUNT(*) AS n FROM events WHERE device_id = $1', [deviceId]);
  return rows[0]?.n ?? 0;
}
