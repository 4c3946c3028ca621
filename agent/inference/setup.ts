import type Database from 'better-sqlite3';
import type { Logger } from 'pino';
import type { InferenceReport } from '../../shared/index.js';
import type { AgentConfig } from '../config.js';
import { createCloudClient } from './cloud-client.js';
import { createHybridRouter } from './hybrid-router.js';
import { ModelFiles } from './model-files.js';
import { ModelStore } from './model-store.js';
import { type AgentModels, createAgentModels } from './models-api.js';
import { type ResolvedProfile, resolveProfile } from './profile.js';
import { ResultCache } from './result-cache.js';
import { InferenceRuntime, type InferenceRuntimeOptions } from './runtime.js';
import { ResultUploader } from './uploader.js';

/** The agent's inference part, wired. */
export interface AgentInference {
  readonly models: AgentModels;
  /** Re-admits the models that were active (at start). */
  loadActive(): Promise<void>;
  report(): InferenceReport;
  close(): Promise<void>;
  /** The parts model delivery (`agent/delivery/*`) installs and activates through. */
  readonly parts: {
    runtime: InferenceRuntime;
    models: ModelStore;
    files: ModelFiles;
    profile: ResolvedProfile;
  };
}

/** Inputs of {@link setupInference}. */
export interface InferenceSetupOptions {
  config: AgentConfig;
  db: Database.Database;
  /** The agent's outbox enqueue (results go to the `results` lane). */
  enqueue(event: { type: string; body: unknown; lane: 'results' }): unknown;
  /** Called after every activation attempt (the reported state changes). */
  onChange(): void;
  /** Whether the hub is reachable now (cloud routes); default never. */
  hubOnline?(): boolean;
  /** Observer of every inference (per-model metrics, shadow;). */
  onInfer?: InferenceRuntimeOptions['onInfer'];
  log: Logger;
  /** `fetch` to the hub for cloud inference; the global one when absent. */
  fetch?: (url: string | URL, init: RequestInit) => Promise<Response>;
}

/**
 * Resolves the firmware profile (config, else detection) and builds the model store, the
 * result cache (profile quota and TTL unless config overrides them), the uploader and the
 * runtime. Throws `AGENT_CONFIG_INVALID` for an unknown or malformed profile.
 */
export function setupInference(options: InferenceSetupOptions): AgentInference {
  const { config, log } = options;
  const inf = config.inference;
  const profile = resolveProfile({
    ...(inf.profile !== undefined ? { name: inf.profile } : {}),
    ...(inf.profilesDir !== undefined ? { dir: inf.profilesDir } : {}),
    log,
  });
  const models = new ModelStore(options.db);
  const files = new ModelFiles(config.dataDir);
  const cache = new ResultCache(options.db, {
    maxBytes: inf.cacheMaxBytes ?? profile.profile.cache.maxBytes,
    ttlS: inf.cacheTtlS ?? profile.profile.cache.ttlS,
  });
  const runtime = new InferenceRuntime({
    models,
    files,
    cache,
    uploader: new ResultUploader(options.enqueue, log),
    profile,
    ...(inf.threads !== undefined ? { intraOpThreads: inf.threads } : {}),
    unwarmed: inf.unwarmed,
    onChange: options.onChange,
    ...(options.onInfer ? { onInfer: options.onInfer } : {}),
    log,
  });
  const router = createHybridRouter({
    routes: inf.routes,
    local: (name, inputs, opts, answered) => runtime.infer(name, inputs, opts, answered),
    cloud:
      inf.hubHttpUrl === undefined
        ? undefined
        : createCloudClient({
            baseUrl: inf.hubHttpUrl,
            deviceId: config.deviceId,
            secret: config.deviceSecret,
            ...(options.fetch ? { fetch: options.fetch } : {}),
          }),
    online: () => options.hubOnline?.() ?? false,
    enqueue: options.enqueue,
    log,
  });
  const agentModels = createAgentModels(
    runtime,
    models,
    { models, files, modelsMaxBytes: profile.profile.storage.modelsMaxBytes, log },
    log,
    router,
  );
  return {
    models: agentModels,
    loadActive: () => runtime.loadActive(),
    report: () => runtime.report(),
    close: () => runtime.close(),
    parts: { runtime, models, files, profile },
  };
}
