/**
 * Who drives what among hub replicas: a lease per singleton job (the rollout
 * driver, the federated round runner, one per rollout or task if wanted), held by one replica
 * at a time until it stops renewing. Callers ask before each tick:
 * `if (!(await leases.isLeader('rollouts'))) return;`.
 */
export interface Leases {
  /** This replica's holder id (random per process start). */
  readonly holder: string;
  /**
   * Acquires `name` when free or expired, renews it when already held; true when this replica
   * holds it now. A replica that stops calling loses it after the TTL.
   */
  isLeader(name: string): Promise<boolean>;
  /**
   * Fencing token of this replica's current holding of `name` (it grows with every change of
   * holder), or undefined when not held; writes guarded by it are refused from a stale holder.
   */
  fence(name: string): number | undefined;
  /** Runs `fn` when this replica holds `name`; resolves `undefined` (fn not run) otherwise. */
  run<T>(name: string, fn: (fence: number) => Promise<T>): Promise<T | undefined>;
  /** Releases every lease held (another replica may take them at once). Idempotent. */
  close(): Promise<void>;
}
