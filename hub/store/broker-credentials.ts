import type { BrokerCredentialStore } from './broker-credentials-types.js';
import type { Sql } from './sql/seam.js';

/** Broker hashes of device secrets, for an external broker's password file. */
export function brokerCredentialArea(db: Sql): BrokerCredentialStore {
  return {
    async putBrokerHash(deviceId: string, hash: string): Promise<boolean> {
      const changed = await db.run(
        `INSERT INTO broker_credentials (device_id, hash) SELECT id, ? FROM devices WHERE id = ?
         ON CONFLICT (device_id) DO UPDATE SET hash = excluded.hash`,
        [hash, deviceId],
      );
      return changed > 0;
    },

    async listBrokerHashes(): Promise<Array<{ deviceId: string; hash: string }>> {
      const rows = await db.all<{ device_id: string; hash: string }>(
        'SELECT device_id, hash FROM broker_credentials ORDER BY device_id',
      );
      return rows.map((row) => ({ deviceId: row.device_id, hash: row.hash }));
    },
  };
}
