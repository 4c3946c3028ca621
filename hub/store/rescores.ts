import type { Lane } from '../../shared/index.js';
import type { Sql } from './sql/seam.js';
import type { HubStore, PendingRescore, RescoreOutcome } from './types.js';

interface PendingRow {
  device_id: string;
  epoch: string;
  lane: string;
  seq: number;
  body: string | null;
}

interface OutcomeRow {
  device_id: string;
  epoch: string;
  lane: string;
  seq: number;
  model: string;
  version: string | null;
  engine: string | null;
  outputs: string | null;
  error: string | null;
  at: number;
}

/** The hub model an `inference.rescore` body names (`cloudModel`, else `model`). */
export function modelOf(body: unknown): string | undefined {
  if (typeof body !== 'object' || body === null) return undefined;
  const { cloudModel, model } = body as { cloudModel?: unknown; model?: unknown };
  if (typeof cloudModel === 'string') return cloudModel;
  return typeof model === 'string' ? model : undefined;
}

/** The re-score methods of {@link HubStore}. */
export type RescoreArea = Pick<HubStore, 'pendingRescores' | 'putRescore' | 'listRescores'>;

/**
 * Cloud re-scores of inputs devices queued while the hub was unreachable: the pending ones
 * are the `inference.rescore` events without a row in `rescores`, oldest first.
 */
export function rescoreArea(db: Sql): RescoreArea {
  return {
    async pendingRescores(limit: number, unservedModels: readonly string[]): Promise<PendingRescore[]> {
      const out: PendingRescore[] = [];
      // Reads a bounded window and filters unserved models in code: their events stay pending.
      // Unserved models may fill the window; look further, bounded, so served ones are found.
      for (let window = limit; out.length < limit; window *= 4) {
        const rows = await db.all<PendingRow>(
          `SELECT e.device_id, e.epoch, e.lane, e.seq, e.body FROM events e
           LEFT JOIN rescores r USING (device_id, epoch, lane, seq)
           WHERE e.type = 'inference.rescore' AND r.seq IS NULL
           ORDER BY e.received_at, e.device_id, e.epoch, e.lane, e.seq LIMIT ?`,
          [window],
        );
        out.length = 0;
        for (const row of rows) {
          const body = row.body === null ? null : (JSON.parse(row.body) as unknown);
          const model = modelOf(body);
          if (model !== undefined && unservedModels.includes(model)) continue;
          out.push({
            deviceId: row.device_id,
            epoch: row.epoch,
            lane: row.lane as Lane,
            seq: row.seq,
            model,
            body,
          });
          if (out.length === limit) break;
        }
        if (rows.length < window || window >= 1_000_000) break;
      }
      return out;
    },

    async putRescore(o: RescoreOutcome): Promise<void> {
      await db.run(
        `INSERT INTO rescores (device_id, epoch, lane, seq, model, version, engine, outputs, error, at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
        [
          o.deviceId,
          o.epoch,
          o.lane,
          o.seq,
          o.model,
          o.version,
          o.engine,
          o.outputs === null ? null : JSON.stringify(o.outputs),
          o.error,
          o.at,
        ],
      );
    },

    async listRescores(deviceId: string, limit: number): Promise<RescoreOutcome[]> {
      const rows = await db.all<OutcomeRow>(
        'SELECT * FROM rescores WHERE device_id = ? ORDER BY epoch, lane, seq LIMIT ?',
        [deviceId, limit],
      );
      return rows.map((row) => ({
        deviceId: row.device_id,
        epoch: row.epoch,
        lane: row.lane as Lane,
        seq: row.seq,
        model: row.model,
        version: row.version,
        engine: row.engine,
        outputs: row.outputs === null ? null : (JSON.parse(row.outputs) as Record<string, unknown>),
        error: row.error,
        at: row.at,
      }));
    },
  };
}
