import {
  type DesiredState,
  type DeviceId,
  OutpostError,
  PROTOCOL_VERSION,
  type RemoteConfig,
} from '../../shared/index.js';
import type { DesiredBody, DesiredMutation } from './registry-types.js';
import { type Column, chunks, placeholders, type Sql } from './sql/seam.js';
import type { HubStore } from './types.js';

/** Splits a stored desired document into its envelope and its sections. */
export function desiredBodyOf(doc: DesiredState): DesiredBody {
  const { v: _v, rev: _rev, at: _at, ...body } = doc;
  return body;
}

/** The desired-state methods of {@link HubStore}. */
export type DesiredArea = Pick<HubStore, 'getDesired' | 'putDesired' | 'listDesired' | 'updateDesired'>;

const DESIRED_COLUMNS: Column[] = [
  ['device_id', 'TEXT'],
  ['rev', 'INTEGER'],
  ['doc', 'TEXT'],
];
const UPSERT_DESIRED = 'ON CONFLICT (device_id) DO UPDATE SET rev = excluded.rev, doc = excluded.doc';

/**
 * Desired documents, one revision counter per device. Every change locks the device rows
 * first (in id order), so two replicas updating overlapping sets wait for each other instead
 * of deadlocking or losing a revision.
 */
export function desiredArea(db: Sql): DesiredArea {
  const area: DesiredArea = {
    async getDesired(id: string): Promise<DesiredState | undefined> {
      const row = await db.get<{ doc: string }>('SELECT doc FROM desired WHERE device_id = ?', [id]);
      return row === undefined ? undefined : (JSON.parse(row.doc) as DesiredState);
    },

    async putDesired(id: string, config: RemoteConfig, atMs: number): Promise<DesiredState> {
      // The other sections (models, …) stay as they are.
      const docs = await area.updateDesired([id], (current) => ({ ...current, config }), atMs);
      return docs.get(id) as DesiredState;
    },

    async listDesired(): Promise<Array<{ deviceId: DeviceId; desired: DesiredState }>> {
      const rows = await db.all<{ device_id: string; doc: string }>(
        'SELECT device_id, doc FROM desired ORDER BY device_id',
      );
      return rows.map((row) => ({ deviceId: row.device_id, desired: JSON.parse(row.doc) as DesiredState }));
    },

    updateDesired(ids: readonly DeviceId[], mutate: DesiredMutation, at: number) {
      return db.tx(async (q) => {
        const unique = [...new Set(ids)].sort();
        const known = new Set<string>();
        const current = new Map<string, DesiredState>();
        for (const part of chunks(unique)) {
          const found = await q.all<{ id: string }>(
            `SELECT id FROM devices WHERE id IN ${placeholders(part.length)} ORDER BY id${q.dialect.forUpdate}`,
            part,
          );
          for (const row of found) known.add(row.id);
          const docs = await q.all<{ device_id: string; doc: string }>(
            `SELECT device_id, doc FROM desired WHERE device_id IN ${placeholders(part.length)}`,
            part,
          );
          for (const row of docs) current.set(row.device_id, JSON.parse(row.doc) as DesiredState);
        }
        const missing = ids.find((id) => !known.has(id));
        if (missing !== undefined) throw new OutpostError('HUB_DEVICE_NOT_FOUND', `no device ${missing}`);
        const out = new Map<DeviceId, DesiredState>();
        for (const id of ids) {
          const previous = out.get(id) ?? current.get(id);
          const body = mutate(previous === undefined ? undefined : desiredBodyOf(previous), id);
          if (body === null) continue;
          out.set(id, { v: PROTOCOL_VERSION, rev: (previous?.rev ?? 0) + 1, at, ...body });
        }
        const rows = [...out].map(([id, doc]) => [id, doc.rev, JSON.stringify(doc)]);
        await q.insertMany('desired', DESIRED_COLUMNS, rows, UPSERT_DESIRED);
        return out;
      });
    },
  };
  return area;
}
