import type { Lane } from '../../shared/index.js';
import type { PgPool } from './postgres-pool.js';
import { modelOf } from './sqlite-rescores.js';
import type { PendingRescore, RescoreOutcome } from './types.js';

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

/**
 * Cloud re-scores in PostgreSQL, the semantics of `sqlite-rescores.ts`:
 * pending = `inference.rescore` events without a `rescores` row, oldest first, models the
 * hub does not serve left waiting.
 */
export const postgresRescores = {
  async listPending(
    pool: PgPool,
    limit: number,
    unservedModels: readonly string[],
  ): Promise<PendingRescore[]> {
    const out: PendingRescore[] = [];
    // Unserved models may fill the window; look further, bounded, so served ones are found.
    for (let window = limit; out.length < limit; window *= 4) {
      const { rows } = await pool.query<PendingRow>(
        `SELECT e.device_id, e.epoch, e.lane, e.seq, e.body FROM events e
         LEFT JOIN rescores r USING (device_id, epoch, lane, seq)
         WHERE e.type = 'inference.rescore' AND r.seq IS NULL
         ORDER BY e.received_at, e.device_id, e.epoch, e.lane, e.seq LIMIT $1`,
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

  async put(pool: PgPool, o: RescoreOutcome): Promise<void> {
    await pool.query(
      `INSERT INTO rescores (device_id, epoch, lane, seq, model, version, engine, outputs, error, at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING`,
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

  async list(pool: PgPool, deviceId: string, limit: number): Promise<RescoreOutcome[]> {
    const { rows } = await pool.query<OutcomeRow>(
      'SELECT * FROM rescores WHERE device_id = $1 ORDER BY epoch, lane, seq LIMIT $2',
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
