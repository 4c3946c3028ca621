import type { Logger } from 'pino';
import type { RolloutRequest } from '../../shared/index.js';
import type { DesiredService } from '../desired/desired-service.js';
import type { Registry } from '../registry/registry.js';
import type { HubStore } from '../store/types.js';
import { createClosedLoop } from './closed-loop.js';
import type { ClosedLoopHook } from './closed-loop-run.js';
import { FederatedConfigSchema, type FlRetentionConfig } from './config.js';
import { createMnistEvaluator, type HubEvaluator } from './hub-eval.js';
import { FlIngest } from './ingest.js';
import { loadRegisteredModel } from './registry-model.js';
import { FlRetention } from './retention.js';
import { FlRoundRunner } from './round-runner.js';
import { FlUploads } from './uploads.js';
import { FlWeightsArtifacts } from './weights-artifacts.js';

/** The hub's federated-learning part: event filing, uploads and the round runner. */
export interface HubFederated {
  ingest: FlIngest;
  runner: FlRoundRunner;
  /** Devices' updates uploaded over HTTP. */
  uploads: FlUploads;
  /** Rounds' global weights as artifacts (with a registry; else every task embeds them). */
  weights?: FlWeightsArtifacts;
  /** Deletes what old rounds no longer need from the store (`federated.retention`). */
  retention: FlRetention;
  /** Lets the closed loop start rollouts (the rollouts module starts after this part). */
  useRollouts(start: (request: RolloutRequest) => Promise<{ id: string }>): void;
  close(): Promise<void>;
}

/** Options of {@link setupFederated}. */
export interface FederatedSetupOptions {
  store: HubStore;
  desired: DesiredService;
  log: Logger;
  now: () => number;
  /** Round runner tick, ms (default 250). */
  tickMs?: number;
  /** Hub-side evaluation of tasks with `hubEval`; default: the MNIST demo's test digits. */
  evaluate?: HubEvaluator;
  /** The closed loop; default: registration through `registry` when given. */
  closedLoop?: ClosedLoopHook;
  /** The registry: its artifact store and signing key also carry the rounds' global weights. */
  registry?: Registry;
  /** Largest global-weights artifact, bytes (default 1 GiB; the hub passes `registry.maxArtifactBytes`). */
  maxArtifactBytes?: number;
  /** Whether this replica drives the rounds now (the `federated` lease; default always). */
  shouldDrive?: () => Promise<boolean>;
  /** What the store keeps of finished rounds (default: the config schema's). */
  retention?: FlRetentionConfig;
}

/**
 * Builds and starts the federated part. The runner resumes every running task from the store;
 * whenever this hub starts driving rounds (at start, or on taking the `federated` lease over
 * from a dead replica) it first re-files the learning events of open rounds
 * that a crash may have stored without filing (idempotent), then asks for a retention pass
 * over every task (hub/federated/retention.ts).
 */
export async function setupFederated(options: FederatedSetupOptions): Promise<HubFederated> {
  let startRollout: ((request: RolloutRequest) => Promise<{ id: string }>) | undefined;
  const closedLoop =
    options.closedLoop ??
    (options.registry
      ? createClosedLoop({
          registry: options.registry,
          startRollout: (request) => {
            if (startRollout === undefined) throw new Error('rollouts are not available on this hub');
            return startRollout(request);
          },
          log: options.log,
        })
      : undefined);
  const registry = options.registry;
  const weights =
    registry === undefined
      ? undefined
      : new FlWeightsArtifacts({
          store: options.store,
          artifacts: registry.artifacts,
          signingKey: () => registry.signingKey.keys,
          maxBytes: options.maxArtifactBytes ?? 1024 * 1024 * 1024,
        });
  const retention = new FlRetention({
    store: options.store,
    log: options.log,
    config: options.retention ?? FederatedConfigSchema.parse({}).retention,
  });
  const runner = new FlRoundRunner({
    store: options.store,
    desired: options.desired,
    log: options.log,
    now: options.now,
    ...(options.tickMs !== undefined ? { tickMs: options.tickMs } : {}),
    evaluate: options.evaluate ?? createMnistEvaluator(),
    ...(weights ? { weights } : {}),
    ...(options.registry
      ? {
          loadModel: (name: string, version: string) =>
            loadRegisteredModel(options.registry as Registry, name, version),
        }
      : {}),
    ...(closedLoop ? { closedLoop } : {}),
    retention,
    ...(options.shouldDrive ? { shouldDrive: options.shouldDrive } : {}),
    onDrive: async () => {
      const refiled = await refileOpenRounds(options.store, ingest);
      if (refiled > 0)
        options.log.info({ refiled }, 'took over the federated rounds; learning events re-filed');
      // What earlier rounds (or a hub that kept everything) left in the store.
      retention.request();
    },
  });
  const ingest = new FlIngest({
    store: options.store,
    log: options.log,
    now: options.now,
    onComplete: () => runner.kick(),
    onSecure: (deviceId, type, body) => runner.secureMessage(deviceId, type, body),
  });
  const uploads = new FlUploads({
    store: options.store,
    log: options.log,
    now: options.now,
    onComplete: () => runner.kick(),
  });
  runner.start();
  return {
    ingest,
    runner,
    uploads,
    ...(weights ? { weights } : {}),
    retention,
    useRollouts: (start) => {
      startRollout = start;
    },
    close: async () => {
      await runner.close();
      await retention.close();
    },
  };
}

/**
 * Events are stored (and acked) before they are filed: after a crash in between, the chunks
 * of an open round exist only as events. Files again every learning event of the devices of
 * each open round; duplicates are ignored by the keys of the chunks, updates and evaluations.
 */
async function refileOpenRounds(store: HubStore, ingest: FlIngest): Promise<number> {
  let refiled = 0;
  const devices = new Set<string>();
  for (const task of await store.listFlTasks()) {
    if (task.status !== 'running') continue;
    for (const round of await store.listFlRounds(task.id)) {
      if (round.status === 'open') for (const id of round.selected) devices.add(id);
    }
  }
  for (const deviceId of devices) {
    let after: { epoch: string; lane: 'learning'; seq: number } | undefined;
    for (;;) {
      const page = await store.listEvents(deviceId, { lane: 'learning', after, limit: 500 });
      if (page.length === 0) break;
      await ingest.handle(deviceId, page);
      refiled += page.length;
      const last = page[page.length - 1];
      if (last === undefined) break;
      after = { epoch: last.epoch, lane: 'learning', seq: last.seq };
    }
  }
  return refiled;
}
