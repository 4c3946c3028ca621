import type { DeviceRecord } from './types.js';

/** A row of `devices`. */
export interface DeviceRow {
  id: string;
  name: string | null;
  labels: string;
  secret_hash: string;
  created_at: number;
  online: number;
  conn: string | null;
  last_seen: number | null;
  reported: string | null;
  reported_at: number | null;
}

/** Maps a `devices` row to a {@link DeviceRecord}. */
export function toDevice(row: DeviceRow): DeviceRecord {
  return {
    id: row.id,
    name: row.name,
    labels: JSON.parse(row.labels) as Record<string, string>,
    secretHash: row.secret_hash,
    createdAt: row.created_at,
    online: row.online === 1,
    conn: row.conn,
    lastSeen: row.last_seen,
    reported: row.reported === null ? null : JSON.parse(row.reported),
    reportedAt: row.reported_at,
  };
}
