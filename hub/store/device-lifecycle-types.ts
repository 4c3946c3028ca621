/**
 * Device lifecycle in the store. A disabled device keeps its row and data; its secret hash and
 * broker hash carry the {@link DISABLED_PREFIX}, so that neither the hub's check nor an external
 * broker's password file accepts it, and enabling restores them unchanged.
 */
export interface DeviceLifecycleStore {
  /** Replaces a device's secret hash and broker hash; false for an unknown device. */
  updateCredentials(deviceId: string, secretHash: string, brokerHash: string): Promise<boolean>;
  /**
   * Deletes a device with its desired state, events, high-water marks, skips and broker hash
   * (rollout and metrics history stay); false when unknown.
   */
  deleteDevice(deviceId: string): Promise<boolean>;
}

/** Marks a disabled device's hashes: no scrypt or `$7$` check accepts a hash with it. */
export const DISABLED_PREFIX = 'disabled:';
