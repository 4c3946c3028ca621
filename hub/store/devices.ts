import { OutpostError } from '../../shared/index.js';
import { REMOVED_PREFIX } from './device-lifecycle-types.js';
import type { Sql } from './sql/seam.js';
import type { DeviceRecord, HubStore, NewDevice, StatusOutcome, StatusUpdate } from './types.js';

/** A row of `devices`; `online` is 0/1 on SQLite, a boolean on PostgreSQL. */
interface DeviceRow {
  id: string;
  name: string | null;
  labels: string;
  secret_hash: string;
  created_at: number;
  online: number | boolean;
  conn: string | null;
  last_seen: number | null;
  reported: string | null;
  reported_at: number | null;
}

function toDevice(row: DeviceRow): DeviceRecord {
  return {
    id: row.id,
    name: row.name,
    labels: JSON.parse(row.labels) as Record<string, string>,
    secretHash: row.secret_hash,
    createdAt: row.created_at,
    online: row.online === true || row.online === 1,
    conn: row.conn,
    lastSeen: row.last_seen,
    reported: row.reported === null ? null : JSON.parse(row.reported),
    reportedAt: row.reported_at,
  };
}

/** The device methods of {@link HubStore}. */
export type DeviceArea = Pick<
  HubStore,
  | 'createDevice'
  | 'getDevice'
  | 'listDevices'
  | 'setStatus'
  | 'markAllOffline'
  | 'setReported'
  | 'touch'
  | 'updateCredentials'
  | 'removeDevice'
>;

/** Enrolled devices: identity, connection status, last seen, reported state. */
export function deviceArea(db: Sql): DeviceArea {
  const lastSeen = (param: string) => db.dialect.greatest('COALESCE(last_seen, 0)', param);
  return {
    async createDevice(device: NewDevice): Promise<DeviceRecord> {
      try {
        const row = await db.get<DeviceRow>(
          `INSERT INTO devices (id, name, labels, secret_hash, created_at) VALUES (?, ?, ?, ?, ?)
           RETURNING *`,
          [
            device.id,
            device.name ?? null,
            JSON.stringify(device.labels ?? {}),
            device.secretHash,
            device.createdAt,
          ],
        );
        return toDevice(row as DeviceRow);
      } catch (err) {
        if (db.dialect.isUniqueViolation(err)) {
          throw new OutpostError('HUB_DEVICE_EXISTS', `a device with id ${device.id} already exists`);
        }
        throw err;
      }
    },

    async getDevice(id: string): Promise<DeviceRecord | undefined> {
      const row = await db.get<DeviceRow>('SELECT * FROM devices WHERE id = ?', [id]);
      return row === undefined ? undefined : toDevice(row);
    },

    async listDevices(): Promise<DeviceRecord[]> {
      const rows = await db.all<DeviceRow>('SELECT * FROM devices WHERE secret_hash NOT LIKE ? ORDER BY id', [
        `${REMOVED_PREFIX}%`,
      ]);
      return rows.map(toDevice);
    },

    setStatus(id: string, update: StatusUpdate): Promise<StatusOutcome> {
      return db.tx(async (q) => {
        const row = await q.get<{ conn: string | null }>(
          `SELECT conn FROM devices WHERE id = ?${q.dialect.forUpdate}`,
          [id],
        );
        if (row === undefined) return 'unknown-device';
        if (update.online) {
          await q.run(
            `UPDATE devices SET online = TRUE, conn = ?, last_seen = ${lastSeen('?')} WHERE id = ?`,
            [update.conn, update.at, id],
          );
          return 'applied';
        }
        // docs/architecture.md "stale will": an offline for another connection than the current one is ignored.
        if (row.conn !== null && row.conn !== update.conn) return 'stale';
        await q.run(`UPDATE devices SET online = FALSE, last_seen = ${lastSeen('?')} WHERE id = ?`, [
          update.at,
          id,
        ]);
        return 'applied';
      });
    },

    markAllOffline(): Promise<number> {
      return db.run('UPDATE devices SET online = FALSE WHERE online');
    },

    async setReported(id: string, reported: unknown, atMs: number): Promise<boolean> {
      const changed = await db.run(
        `UPDATE devices SET reported = ?, reported_at = ?, last_seen = ${lastSeen('?')} WHERE id = ?`,
        [JSON.stringify(reported), atMs, atMs, id],
      );
      return changed > 0;
    },

    async touch(id: string, lastSeenMs: number): Promise<void> {
      await db.run(`UPDATE devices SET last_seen = ${lastSeen('?')} WHERE id = ?`, [lastSeenMs, id]);
    },

    updateCredentials(deviceId: string, secretHash: string, brokerHash: string): Promise<boolean> {
      return db.tx(async (q) => {
        const changed = await q.run('UPDATE devices SET secret_hash = ? WHERE id = ?', [
          secretHash,
          deviceId,
        ]);
        if (changed === 0) return false;
        await q.run(
          `INSERT INTO broker_credentials (device_id, hash) VALUES (?, ?)
           ON CONFLICT (device_id) DO UPDATE SET hash = excluded.hash`,
          [deviceId, brokerHash],
        );
        return true;
      });
    },

    removeDevice(deviceId: string, { purge, at }: { purge: boolean; at: number }): Promise<boolean> {
      return db.tx(async (q) => {
        if (purge) {
          // Desired state, events, high-water marks, skips, re-scores and broker hash go with it (ON DELETE CASCADE).
          if ((await q.run('DELETE FROM devices WHERE id = ?', [deviceId])) === 0) return false;
          // Tables the telemetry fold keeps per device have no foreign key (the fold may run
          // behind an enrollment on another replica): they go here.
          for (const table of [
            'model_metrics_cursor',
            'telemetry_cursor',
            'device_telemetry',
            'drift_devices',
          ])
            await q.run(`DELETE FROM ${table} WHERE device_id = ?`, [deviceId]);
          return true;
        }
        const changed = await q.run(
          'UPDATE devices SET secret_hash = ?, online = FALSE WHERE id = ? AND secret_hash NOT LIKE ?',
          [`${REMOVED_PREFIX}${Math.trunc(at)}`, deviceId, `${REMOVED_PREFIX}%`],
        );
        if (changed === 0) return false;
        await q.run('DELETE FROM broker_credentials WHERE device_id = ?', [deviceId]);
        await q.run('DELETE FROM desired WHERE device_id = ?', [deviceId]);
        return true;
      });
    },
  };
}
