import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { HUB_DB_FILE } from '../../hub/index.js';

/** Rows of one device's events in the store: all rows, and the distinct seqs among 1..sent. */
interface DeviceRows {
  device_id: string;
  n: number;
  distinct_seqs: number;
}

/** What the exact check found over the whole fleet. */
export interface ExactCheck {
  /** Events a device sent (and got acked) that no row holds: Σ (sent − distinct seqs). */
  lost: number;
  /** Rows beyond one per seq: Σ (rows − distinct seqs). */
  duplicated: number;
}

const QUERY = (epoch: string, sent: number) =>
  `SELECT device_id, COUNT(*) AS n,
          COUNT(DISTINCT CASE WHEN seq BETWEEN 1 AND ${sent} THEN seq END) AS distinct_seqs
   FROM events WHERE epoch = '${epoch}' GROUP BY device_id`;

function compare(rows: readonly DeviceRows[], devices: readonly string[], sent: number): ExactCheck {
  const byDevice = new Map(rows.map((r) => [r.device_id, r]));
  let lost = 0;
  let duplicated = 0;
  for (const id of devices) {
    const r = byDevice.get(id);
    const distinct = Number(r?.distinct_seqs ?? 0);
    lost += sent - distinct;
    duplicated += Number(r?.n ?? 0) - distinct;
  }
  return { lost, duplicated };
}

/**
 * Counts, per device, the stored events of `epoch` and their distinct seqs, and compares them
 * with the `sent` events (seqs 1..sent) every device sent: PostgreSQL at `pgUrl`, else the
 * SQLite store in `dataDir` (read after the hub stopped).
 */
export async function exactCheck(
  where: { pgUrl: string } | { dataDir: string },
  epoch: string,
  devices: readonly string[],
  sent: number,
): Promise<ExactCheck> {
  if ('pgUrl' in where) {
    const client = new pg.Client({ connectionString: where.pgUrl });
    await client.connect();
    try {
      return compare((await client.query<DeviceRows>(QUERY(epoch, sent))).rows, devices, sent);
    } finally {
      await client.end();
    }
  }
  const db = new Database(join(where.dataDir, HUB_DB_FILE), { readonly: true });
  try {
    return compare(db.prepare(QUERY(epoch, sent)).all() as DeviceRows[], devices, sent);
  } finally {
    db.close();
  }
}
