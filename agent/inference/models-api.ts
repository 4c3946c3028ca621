import type { Logger } from 'pino';
import { z } from 'zod';
import { type TensorMap, tensorFromJson } from '../../inference/index.js';
import {
  formatIssues,
  type ModelRuntimeReport,
  OutpostError,
  type PRECISIONS,
  type TensorSpec,
  type TensorValue,
} from '../../shared/index.js';
import type { HybridRouter } from './hybrid-router.js';
import { type InstallDeps, type InstallRequest, installModel } from './installer.js';
import type { ModelPolicy, ModelStore } from './model-store.js';
import type { ModelRoute, RouteCounters } from './routing.js';
import type { InferenceRuntime, InferOptions, InferResult } from './runtime.js';
import type { UploadCounters } from './uploader.js';

/** A model as `GET /v1/models` lists it. */
export interface ModelListing {
  name: string;
  /** The active variant with its engine and signature, or null when none is active. */
  active: (ModelRuntimeReport & { inputs: TensorSpec[]; outputs: TensorSpec[] }) | null;
  installed: Array<{
    version: string;
    precision: (typeof PRECISIONS)[number];
    format: string;
    sha256: string;
    size: number;
    installedAt: number;
  }>;
  policy: ModelPolicy;
  uploads: UploadCounters;
  /** Its hybrid route and how its inferences were served since start. */
  routing?: { route: ModelRoute; served: RouteCounters };
}

/** Inputs as tensors, or as JSON tensors (`{dtype, dims, data}`) converted first. */
export type InferInputs = TensorMap | Record<string, TensorValue>;

/** The agent's model API, in process (`agent.models`) and behind the local HTTP routes. */
export interface AgentModels {
  /** Installs from a local file (see `InstallRequestSchema`) and, by default, activates it. */
  install(request: InstallRequest): Promise<ModelListing>;
  /** Activates an installed version (its best admitted variant). */
  activate(
    name: string,
    version: string,
    precision?: (typeof PRECISIONS)[number],
  ): Promise<ModelRuntimeReport>;
  list(): ModelListing[];
  /** One model's listing; throws `INFER_MODEL_NOT_FOUND`. */
  get(name: string): ModelListing;
  /**
   * Runs `name` by its route (local, cloud, local-first, cloud-first; `result.route` says
   * how); see `InferenceRuntime.infer` and `HybridRouter` for errors.
   */
  infer(name: string, inputs: InferInputs, options?: InferOptions): Promise<InferResult>;
  /** Runs several input sets in order; each is cached and uploaded on its own. */
  inferBatch(name: string, batch: InferInputs[], options?: InferOptions): Promise<InferResult[]>;
  /** Changes a model's policy (fields not given keep their value). */
  setPolicy(name: string, policy: Partial<ModelPolicy>): ModelPolicy;
}

export const PolicyInputSchema = z.strictObject({
  upload: z.enum(['none', 'sampled', 'all']).optional(),
  sampleRate: z.number().min(0).max(1).optional(),
  cache: z.boolean().optional(),
  preprocessing: z.string().max(64).optional(),
});

const isHostTensor = (t: InferInputs[string]) => typeof t.data === 'object' && !Array.isArray(t.data);

/** The inputs as host tensors: the caller's own map when it holds only host tensors (no copy). */
function toTensors(inputs: InferInputs): TensorMap {
  let allHost = true;
  for (const name in inputs) {
    if (!isHostTensor(inputs[name] as InferInputs[string])) {
      allHost = false;
      break;
    }
  }
  if (allHost) return inputs as TensorMap;
  const out: TensorMap = {};
  for (const [name, t] of Object.entries(inputs)) {
    const isHost = typeof t.data === 'object' && !Array.isArray(t.data);
    out[name] = isHost ? (t as TensorMap[string]) : tensorFromJson(name, t as TensorValue);
  }
  return out;
}

/** Builds {@link AgentModels} over the runtime and the store. */
export function createAgentModels(
  runtime: InferenceRuntime,
  models: ModelStore,
  installDeps: InstallDeps,
  log: Logger,
  router?: HybridRouter,
): AgentModels {
  const run = (name: string, inputs: TensorMap, options?: InferOptions) =>
    router ? router.infer(name, inputs, options) : runtime.infer(name, inputs, options);
  const listing = (name: string): ModelListing | undefined => {
    const installed = models.list().filter((m) => m.name === name);
    const report = runtime.report().models.find((m) => m.name === name);
    if (installed.length === 0 && !report) return undefined;
    let signature: { inputs: TensorSpec[]; outputs: TensorSpec[] } = { inputs: [], outputs: [] };
    if (report?.engine) signature = runtime.signature(name);
    return {
      name,
      active: report ? { ...report, ...signature } : null,
      installed: installed.map((m) => ({
        version: m.version,
        precision: m.precision,
        format: m.manifest.format,
        sha256: m.manifest.sha256,
        size: m.manifest.size,
        installedAt: m.installedAt,
      })),
      policy: { ...models.policy(name) },
      uploads: runtime.uploads(name),
      ...(router
        ? {
            routing: {
              route: router.route(name),
              served: router.counters()[name] ?? {
                local: 0,
                cloud: 0,
                escalated: 0,
                fallbacks: 0,
                rescoreQueued: 0,
              },
            },
          }
        : {}),
    };
  };
  const get = (name: string): ModelListing => {
    const found = listing(name);
    if (!found) throw new OutpostError('INFER_MODEL_NOT_FOUND', `no model "${name}" is installed`);
    return found;
  };
  return {
    async install(request) {
      const { manifest, activate } = await installModel(request, installDeps);
      if (activate) await runtime.activate(manifest.name, manifest.version, manifest.precision);
      return get(manifest.name);
    },
    activate: (name, version, precision) => runtime.activate(name, version, precision),
    list: () =>
      [...new Set([...models.list().map((m) => m.name), ...runtime.report().models.map((m) => m.name)])]
        .sort()
        .map((n) => get(n)),
    get,
    infer: (name, inputs, options) => run(name, toTensors(inputs), options),
    async inferBatch(name, batch, options) {
      const results: InferResult[] = [];
      for (const inputs of batch) results.push(await run(name, toTensors(inputs), options));
      return results;
    },
    setPolicy(name, input) {
      const parsed = PolicyInputSchema.safeParse(input);
      if (!parsed.success) {
        const problems = formatIssues(parsed.error);
        throw new OutpostError('AGENT_BAD_REQUEST', problems.join('; '), { details: problems });
      }
      get(name);
      const next = { ...models.policy(name), ...parsed.data } as ModelPolicy;
      models.setPolicy(name, next);
      log.info({ model: name, policy: next }, 'model policy set');
      return next;
    },
  };
}
