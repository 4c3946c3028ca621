import type { Logger } from 'pino';
import { type TensorMap, tensorToJson } from '../../inference/index.js';
import { isOutpostError, OutpostError, type TensorValue } from '../../shared/index.js';
import type { CloudClient } from './cloud-client.js';
import { LOCAL_ROUTE, type ModelRoute, type RouteCounters, type RouteOutcome } from './routing.js';
import type { InferOptions, InferResult } from './runtime.js';

/** A result with how it was routed. */
export type RoutedResult = InferResult & { route: RouteOutcome };

/** Wiring of {@link createHybridRouter}. */
export interface HybridRouterOptions {
  /** Routes by model name; models without one are `local`. */
  routes: Readonly<Record<string, ModelRoute>>;
  /**
   * The local runtime's inference; `answered` is called with the result before the promise
   * resolves (the router counts the call and sets its route there, with no continuation of its own).
   */
  local(
    name: string,
    inputs: TensorMap,
    options?: InferOptions,
    answered?: (result: InferResult) => void,
  ): Promise<InferResult>;
  /** The hub client; absent when `inference.hubHttpUrl` is not configured. */
  cloud: CloudClient | undefined;
  /** Whether the hub is reachable now (the MQTT link is up). */
  online(): boolean;
  /** The outbox enqueue (`results` lane). */
  enqueue(event: { type: string; body: unknown; lane: 'results' }): unknown;
  log: Logger;
}

/** Hybrid routing of every inference. */
export interface HybridRouter {
  infer(name: string, inputs: TensorMap, options?: InferOptions): Promise<RoutedResult>;
  /** A model's route (the default `local` one when none is configured). */
  route(name: string): ModelRoute;
  /** Counters per model that has been inferred since start. */
  counters(): Record<string, RouteCounters>;
}

/** The confidence of a result: the smallest over rows of the largest value of the confidence output. */
export function confidenceOf(outputs: TensorMap, outputName: string | undefined): number | undefined {
  const tensor =
    (outputName ? outputs[outputName] : undefined) ??
    (outputName ? undefined : (outputs.probs ?? Object.values(outputs).find((t) => t.dtype === 'float32')));
  if (!tensor || !(tensor.data instanceof Float32Array)) return undefined;
  const width = tensor.dims[tensor.dims.length - 1] ?? tensor.data.length;
  if (width === 0) return undefined;
  let confidence = Number.POSITIVE_INFINITY;
  for (let row = 0; row * width < tensor.data.length; row++) {
    let max = Number.NEGATIVE_INFINITY;
    for (let i = row * width; i < (row + 1) * width; i++) max = Math.max(max, tensor.data[i] as number);
    confidence = Math.min(confidence, max);
  }
  return confidence;
}

/**
 * Routes each inference by its model's route (see `ModelRouteSchema`). Every fallback is
 * logged at `warn` with its reason and returned in `route.fallback`; with
 * `rescoreOffline`, an input the hub could not score is queued as an `inference.rescore`
 * event (model, version, inputs as JSON tensors, the local top outputs and the reason).
 */
export function createHybridRouter(o: HybridRouterOptions): HybridRouter {
  const counts = new Map<string, RouteCounters>();
  const count = (name: string) => {
    let c = counts.get(name);
    if (!c) {
      c = { local: 0, cloud: 0, escalated: 0, fallbacks: 0, rescoreQueued: 0 };
      counts.set(name, c);
    }
    return c;
  };
  const route = (name: string) => o.routes[name] ?? LOCAL_ROUTE;
  /** Per model, what a `local` route does with an answer: count it and set its route. */
  const answeredLocally = new Map<string, (result: InferResult) => void>();
  const localAnswer = (name: string) => {
    let answered = answeredLocally.get(name);
    if (answered === undefined) {
      let c: RouteCounters | undefined;
      answered = (result) => {
        c ??= count(name);
        c.local++;
        // The runtime's result is this call's own object: the route is set on it, not copied.
        (result as RoutedResult).route = { mode: 'local', servedBy: 'local', escalated: false };
      };
      answeredLocally.set(name, answered);
    }
    return answered;
  };

  async function askCloud(name: string, r: ModelRoute, inputs: TensorMap) {
    if (!o.cloud)
      throw new OutpostError(
        'INFER_CLOUD_UNAVAILABLE',
        'no hub HTTP URL is configured (inference.hubHttpUrl)',
      );
    if (!o.online()) throw new OutpostError('INFER_CLOUD_UNAVAILABLE', 'the hub is unreachable (link down)');
    return o.cloud.infer(r.cloudModel ?? name, inputs, r.deadlineMs);
  }

  function rescore(
    name: string,
    r: ModelRoute,
    inputs: TensorMap,
    local: InferResult,
    reason: string,
  ): boolean {
    if (!r.rescoreOffline) return false;
    const json: Record<string, TensorValue> = {};
    for (const [k, t] of Object.entries(inputs)) json[k] = tensorToJson(t);
    try {
      o.enqueue({
        type: 'inference.rescore',
        lane: 'results',
        body: {
          model: name,
          cloudModel: r.cloudModel ?? name,
          version: local.version,
          precision: local.precision,
          engine: local.engine,
          reason,
          inputs: json,
        },
      });
      count(name).rescoreQueued++;
      return true;
    } catch (err) {
      o.log.warn({ model: name, err }, 'input could not be queued for cloud re-scoring');
      return false;
    }
  }

  async function localWithFallback(
    name: string,
    r: ModelRoute,
    inputs: TensorMap,
    options: InferOptions | undefined,
    reason: string,
    known?: { result: InferResult; confidence: number | undefined },
  ): Promise<RoutedResult> {
    const result = known?.result ?? (await o.local(name, inputs, options));
    const c = count(name);
    c.local++;
    c.fallbacks++;
    o.log.warn({ model: name, mode: r.mode, reason }, 'cloud inference fell back to the local model');
    const queued = rescore(name, r, inputs, result, reason);
    return {
      ...result,
      route: {
        mode: r.mode,
        servedBy: 'local',
        escalated: false,
        ...(known?.confidence !== undefined ? { confidence: known.confidence } : {}),
        fallback: reason,
        ...(r.rescoreOffline ? { rescoreQueued: queued } : {}),
      },
    };
  }

  function fromCloud(
    name: string,
    r: ModelRoute,
    answer: Awaited<ReturnType<CloudClient['infer']>>,
    escalated: boolean,
    confidence?: number,
  ): RoutedResult {
    const c = count(name);
    c.cloud++;
    if (escalated) c.escalated++;
    return {
      model: name,
      version: answer.version,
      // The hub serves its models as given (no variants): reported as fp32.
      precision: 'fp32',
      engine: answer.engine,
      cached: false,
      outputs: answer.outputs,
      route: {
        mode: r.mode,
        servedBy: 'cloud',
        escalated,
        ...(confidence !== undefined ? { confidence } : {}),
      },
    };
  }

  const reasonOf = (err: unknown) => (isOutpostError(err) ? `${err.code}: ${err.message}` : String(err));

  async function routed(
    name: string,
    r: ModelRoute,
    inputs: TensorMap,
    options: InferOptions | undefined,
  ): Promise<RoutedResult> {
    if (r.mode === 'cloud') return fromCloud(name, r, await askCloud(name, r, inputs), false);
    if (r.mode === 'cloud-first') {
      try {
        return fromCloud(name, r, await askCloud(name, r, inputs), false);
      } catch (err) {
        return localWithFallback(name, r, inputs, options, reasonOf(err));
      }
    }
    // local-first
    const result = await o.local(name, inputs, options);
    const confidence = confidenceOf(result.outputs, r.confidenceOutput);
    if (confidence === undefined) {
      o.log.warn(
        { model: name, output: r.confidenceOutput ?? 'probs' },
        'local-first: no float32 confidence output; answered locally without escalation',
      );
    }
    if (confidence === undefined || confidence >= r.confidenceThreshold) {
      count(name).local++;
      return {
        ...result,
        route: {
          mode: r.mode,
          servedBy: 'local',
          escalated: false,
          ...(confidence !== undefined ? { confidence } : {}),
        },
      };
    }
    try {
      return fromCloud(name, r, await askCloud(name, r, inputs), true, confidence);
    } catch (err) {
      return localWithFallback(name, r, inputs, options, reasonOf(err), { result, confidence });
    }
  }

  return {
    route,
    counters: () => Object.fromEntries([...counts].map(([k, v]) => [k, { ...v }])),
    infer(name, inputs, options) {
      const r = route(name);
      // A local route adds no continuation: the runtime calls `answered` in its own.
      if (r.mode === 'local')
        return o.local(name, inputs, options, localAnswer(name)) as Promise<RoutedResult>;
      return routed(name, r, inputs, options);
    },
  };
}
