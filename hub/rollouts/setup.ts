import type { Logger } from 'pino';
import type { Registry } from '../registry/registry.js';
import type { HubStore } from '../store/types.js';
import type { RolloutsConfig } from './config.js';
import { type RolloutDriver, startRolloutDriver } from './driver.js';
import type { DriftLookup } from './evaluate.js';
import type { RolloutDesired } from './pins.js';
import { createRolloutService, type RolloutService } from './service.js';

/** The hub's rollouts part: operator actions and the driver loop. */
export interface HubRollouts {
  service: RolloutService;
  driver: RolloutDriver;
}

/**
 * Starts the rollout driver over the store and the desired-state service. `shouldDrive`
 * decides per tick whether this hub drives (a lease for replicas); default always.
 */
export function setupRollouts(options: {
  store: HubStore;
  desired: RolloutDesired;
  config: RolloutsConfig;
  now: () => number;
  log: Logger;
  shouldDrive?: () => Promise<boolean>;
  /** Drift per model version for `drift_psi`/`drift_ks` gates. */
  drift?: DriftLookup;
  /** When given, a version a live (running or paused) rollout uses cannot be deleted. */
  registry?: Pick<Registry, 'addReferenceCheck'>;
}): HubRollouts {
  const driver = startRolloutDriver({
    store: options.store,
    desired: options.desired,
    log: options.log,
    now: options.now,
    tickMs: options.config.tickMs,
    ...(options.drift ? { drift: options.drift } : {}),
    ...(options.shouldDrive ? { shouldDrive: options.shouldDrive } : {}),
  });
  const service = createRolloutService({
    store: options.store,
    desired: options.desired,
    log: options.log,
    now: options.now,
    kick: () => void driver.tick(),
    ...(options.drift ? { drift: options.drift } : {}),
  });
  options.registry?.addReferenceCheck(async (name, version) => {
    const live = (await options.store.listRollouts()).filter(
      (r) =>
        r.spec.model === name &&
        (r.state === 'running' || r.state === 'paused') &&
        (r.spec.version === version || r.spec.control === version),
    );
    return live.length > 0 ? `rollout ${live.map((r) => `${r.id} (${r.state})`).join(', ')}` : undefined;
  });
  return { service, driver };
}
