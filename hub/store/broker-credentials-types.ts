/**
 * Device credentials for an external broker: at enrollment the hub stores,
 * next to the scrypt hash it checks itself, a Mosquitto `$7$` hash of the same secret, so that
 * `outpost hub broker-config` can write the broker's password file for every device without
 * ever keeping a secret in the clear. Implemented by every store backend.
 */
export interface BrokerCredentialStore {
  /** Stores (or replaces) the broker hash of an enrolled device; false for an unknown device. */
  putBrokerHash(deviceId: string, hash: string): Promise<boolean>;
  /** Every device's broker hash, by device id. */
  listBrokerHashes(): Promise<Array<{ deviceId: string; hash: string }>>;
}
