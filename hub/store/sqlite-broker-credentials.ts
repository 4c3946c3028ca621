import type { Database, Statement } from 'better-sqlite3';

/** Broker hashes of device secrets in SQLite (`BrokerCredentialStore`). */
export class SqliteBrokerCredentials {
  private readonly put: Statement<[string, string]>;
  private readonly all: Statement<[], { device_id: string; hash: string }>;

  constructor(db: Database) {
    this.put = db.prepare(
      `INSERT INTO broker_credentials (device_id, hash) SELECT id, ? FROM devices WHERE id = ?
       ON CONFLICT (device_id) DO UPDATE SET hash = excluded.hash`,
    );
    this.all = db.prepare('SELECT device_id, hash FROM broker_credentials ORDER BY device_id');
  }

  /** False when the device is unknown. */
  store(deviceId: string, hash: string): boolean {
    return this.put.run(hash, deviceId).changes > 0;
  }

  list(): Array<{ deviceId: string; hash: string }> {
    return this.all.all().map((row) => ({ deviceId: row.device_id, hash: row.hash }));
  }
}
