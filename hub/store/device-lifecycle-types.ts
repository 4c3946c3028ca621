/**
 * Device lifecycle in the store. A disabled device keeps its row and data; its secret hash and
 * broker hash carry the {@link DISABLED_PREFIX}, so that neither the hub's check nor an external
 * broker's password file accepts it, and enabling restores them unchanged.
 */
export interface DeviceLifecycleStore {
  /** Replaces a device's secret hash and broker hash; false for an unknown device. */
  updateCredentials(deviceId: string, secretHash: string, brokerHash: string): Promise<boolean>;
  /**
   * Removes a device from the fleet; false when unknown (or, keeping, already removed).
   * - Keeping (default): its credentials (secret hash replaced by {@link REMOVED_PREFIX} and
   *   the time, broker hash deleted) and desired state go; its row with the last reported
   *   state (model reports), its events of every lane (results, telemetry, logs, learning),
   *   high-water marks, skips (loss ledger) and re-scores stay, readable by id. It is left out
   *   of `listDevices` (no rollout, round or fleet view counts it) and its id stays taken.
   * - `purge`: the device row goes with all of the above (ON DELETE CASCADE) and its model
   *   metrics cursor; works on a kept removed device too. Rollout counters and federated
   *   round records stay (they are the rollouts' and rounds' own history).
   */
  removeDevice(deviceId: string, options: { purge: boolean; at: number }): Promise<boolean>;
}

/** Marks a disabled device's hashes: no scrypt or `$7$` check accepts a hash with it. */
export const DISABLED_PREFIX = 'disabled:';

/** A removed device's secret hash: this prefix and the removal time, ms; no check accepts it. */
export const REMOVED_PREFIX = 'removed:';

/** When a device was removed (its data kept), from its secret hash; null when it was not. */
export function removedAt(secretHash: string): number | null {
  return secretHash.startsWith(REMOVED_PREFIX) ? Number(secretHash.slice(REMOVED_PREFIX.length)) : null;
}

/** Whether a device with this secret hash may authenticate (neither disabled nor removed). */
export function canAuthenticate(secretHash: string): boolean {
  return !secretHash.startsWith(DISABLED_PREFIX) && !secretHash.startsWith(REMOVED_PREFIX);
}
