import type Database from 'better-sqlite3';
import type { Logger } from 'pino';
import type { AgentConfig } from '../config.js';
import type { AgentInference } from '../inference/setup.js';
import { DeliveryStore } from '../store/delivery-store.js';
import { trustedKeysOf } from './config.js';
import { ModelDelivery } from './manager.js';

/**
 * Wires model delivery over the agent's inference parts: artifacts come from
 * `delivery.hubHttpUrl` (else `inference.hubHttpUrl`) with the device's Basic credentials,
 * manifests are checked against `delivery.trustedKeys` / `trustedKeyFiles`. Throws
 * `AGENT_CONFIG_INVALID` when a key file cannot be read.
 */
export function setupDelivery(options: {
  config: AgentConfig;
  db: Database.Database;
  inference: AgentInference;
  onChange(): void;
  log: Logger;
  now?: () => number;
  /** `fetch` to the hub (private CA, client certificate;); the global one when absent. */
  fetch?: (url: string, init: RequestInit) => Promise<Response>;
}): ModelDelivery {
  const { config, inference } = options;
  const now = options.now ?? Date.now;
  const store = new DeliveryStore(options.db);
  const { runtime, models, files, profile } = inference.parts;
  return new ModelDelivery({
    install: {
      dataDir: config.dataDir,
      hubHttpUrl: config.delivery.hubHttpUrl ?? config.inference.hubHttpUrl,
      authorization: `Basic ${Buffer.from(`${config.deviceId}:${config.deviceSecret}`).toString('base64')}`,
      config: config.delivery,
      models,
      files,
      store,
      modelsMaxBytes: profile.profile.storage.modelsMaxBytes,
      log: options.log,
      now,
      ...(options.fetch ? { fetch: options.fetch } : {}),
    },
    runtime,
    profile,
    store,
    trustedKeys: trustedKeysOf(config.delivery),
    onChange: options.onChange,
    log: options.log,
    now,
  });
}
