import type { Logger } from 'pino';
import type { HubBus } from '../bus/types.js';
import { createDesiredService, type DesiredService } from '../desired/desired-service.js';
import type { HubStore } from '../store/types.js';
import { type AgentBundleRegistry, createAgentBundleRegistry } from './agent-bundles.js';
import { ArtifactStore } from './artifact-store.js';
import type { RegistryConfig } from './config.js';
import { createRegistry, type Registry } from './registry.js';
import { loadOrCreateSigningKey } from './signing-key.js';

/** The hub's delivery part: the registry (models and agent releases) and the desired-state service. */
export interface HubDelivery {
  registry: Registry;
  /** Agent releases (bundles per platform), for over-the-air agent updates. */
  agents: AgentBundleRegistry;
  desired: DesiredService;
}

/** Loads (or creates) the signing key and builds the registry and the desired-state service. */
export async function setupDelivery(options: {
  dataDir: string;
  config: RegistryConfig;
  store: HubStore;
  bus: HubBus;
  now: () => number;
  log: (component: string) => Logger;
}): Promise<HubDelivery> {
  const signingKey = await loadOrCreateSigningKey(options.dataDir, options.log('registry'));
  const desired = createDesiredService({
    store: options.store,
    bus: options.bus,
    now: options.now,
    log: options.log('desired'),
  });
  const artifacts = new ArtifactStore(options.dataDir);
  const registry = createRegistry({
    store: options.store,
    artifacts,
    signingKey,
    dataDir: options.dataDir,
    maxArtifactBytes: options.config.maxArtifactBytes,
    referenceMaxElements: options.config.referenceMaxElements,
    devicesReferencing: (name, version) => desired.devicesReferencing(name, version),
    now: options.now,
    log: options.log('registry'),
  });
  const agents = createAgentBundleRegistry({
    store: options.store,
    artifacts,
    signingKey: () => registry.signingKey,
    maxArtifactBytes: options.config.maxArtifactBytes,
    now: options.now,
    log: options.log('registry'),
  });
  return { registry, agents, desired };
}
