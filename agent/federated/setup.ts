import type Database from 'better-sqlite3';
import type { Logger } from 'pino';
import {
  chunk,
  clipL2,
  compressWithFeedback,
  decodeUpdate,
  encodeUpdate,
  evaluate,
  trainLocal,
} from '../../federated/index.js';
import type { AgentConfig } from '../config.js';
import { trustedKeysOf } from '../delivery/config.js';
import { DeliveryStore } from '../store/delivery-store.js';
import type { SampleStore } from '../store/sample-store.js';
import type { AgentEvent } from '../types.js';
import { ResidualStore } from './residual-store.js';
import { RoundMemory } from './round-memory.js';
import { RoundWeights } from './round-weights.js';
import { TaskRunner } from './task-runner.js';
import { UpdateUploader } from './uploader.js';

/** The hub's HTTP URL and trusted keys when this agent can take rounds' weights as artifacts. */
export function artifactPath(
  cfg: AgentConfig | undefined,
): { hubHttpUrl: string; trustedKeys: string[] } | undefined {
  const hubHttpUrl = cfg?.delivery.hubHttpUrl ?? cfg?.inference.hubHttpUrl;
  const trustedKeys = cfg === undefined ? [] : trustedKeysOf(cfg.delivery);
  return hubHttpUrl !== undefined && trustedKeys.length > 0 ? { hubHttpUrl, trustedKeys } : undefined;
}

/**
 * Builds the agent's federated task runner over fl-core's trainer and codecs. With the hub's
 * HTTP URL (`delivery.hubHttpUrl`, else `inference.hubHttpUrl`) and trusted keys
 * (`delivery.trustedKeys`/`trustedKeyFiles`) it takes rounds' weights as artifacts — the
 * global model downloaded like a model artifact, the update uploaded in parts, both within
 * `delivery.bandwidthBytesPerS` — and says so in its reported state; without them, only tasks
 * that embed their weights (small models) train here.
 */
export function createTaskRunner(options: {
  deviceId: string;
  /** The agent's data dir: residuals, downloads and uploads live under it. */
  dataDir: string;
  db: Database.Database;
  samples: SampleStore;
  enqueue(event: AgentEvent): unknown;
  log: Logger;
  /** The agent config (delivery, credentials); absent: no weights as artifacts. */
  config?: AgentConfig;
  /** `fetch` to the hub (TLS); the global one when absent. */
  fetch?: (url: string, init: RequestInit) => Promise<Response>;
  now?: () => number;
}): TaskRunner {
  const memory = new RoundMemory(options.db);
  const cfg = options.config;
  const path = artifactPath(cfg);
  const now = options.now ?? Date.now;
  let artifacts: ConstructorParameters<typeof TaskRunner>[0]['artifacts'];
  if (cfg !== undefined && path !== undefined) {
    const { hubHttpUrl, trustedKeys } = path;
    const authorization = `Basic ${Buffer.from(`${cfg.deviceId}:${cfg.deviceSecret}`).toString('base64')}`;
    const http = { hubHttpUrl, authorization, fetch: options.fetch, log: options.log };
    artifacts = {
      weights: new RoundWeights({
        ...http,
        dataDir: options.dataDir,
        trustedKeys,
        store: new DeliveryStore(options.db),
        bandwidthBps: cfg.delivery.bandwidthBytesPerS,
        checkpointBytes: cfg.delivery.checkpointBytes,
        now,
      }),
      uploader: new UpdateUploader({
        ...http,
        db: options.db,
        dataDir: options.dataDir,
        bandwidthBps: cfg.delivery.bandwidthBytesPerS,
        retryMinMs: cfg.delivery.retryMinMs,
        retryMaxMs: cfg.delivery.retryMaxMs,
      }),
    };
  }
  return new TaskRunner({
    deviceId: options.deviceId,
    db: options.db,
    samples: options.samples,
    enqueue: options.enqueue,
    log: options.log,
    now,
    memory,
    residuals: new ResidualStore(options.dataDir, memory, { encode: encodeUpdate, decode: decodeUpdate }),
    lib: { trainLocal, evaluate, clipL2, encodeUpdate, decodeUpdate, chunk, compressWithFeedback },
    ...(artifacts ? { artifacts } : {}),
  });
}
