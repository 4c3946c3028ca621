import type { Logger } from 'pino';
import {
  assertInputs,
  decodeTensors,
  digestTensors,
  type Engine,
  encodeTensors,
  type LoadedModel,
  type ModelSignature,
  type TensorMap,
} from '../../inference/index.js';
import {
  type EngineName,
  type InferenceReport,
  type Manifest,
  type ModelRuntimeReport,
  OutpostError,
  type UnwarmedPolicy,
} from '../../shared/index.js';
import type { InferenceObservation } from '../metrics/model-metrics.js';
import type { ActiveModel } from './active-model.js';
import { engineFailed, LocalRun, type RunHooks } from './local-run.js';
import type { ModelFiles } from './model-files.js';
import type { ModelPolicy, ModelStore, Precision } from './model-store.js';
import type { ResolvedProfile } from './profile.js';
import { cacheKey, type ResultCache } from './result-cache.js';
import type { RouteOutcome } from './routing.js';
import { RunsInFlight } from './runs-in-flight.js';
import type { ResultUploader, UploadCounters } from './uploader.js';
import { admitVersion } from './version-admission.js';

/** Called with an answered result before the caller sees it (the hybrid router sets its route there). */
export type InferAnswered = (result: InferResult) => void;

const NO_OPTIONS: InferOptions = Object.freeze({});

/** Options of a single inference. */
export interface InferOptions {
  /** Preprocessing version for the cache key; the model policy's when absent. */
  preprocessing?: string;
  /** false skips the cache for this call (neither read nor written). */
  cache?: boolean;
}

/** An answered inference. */
export interface InferResult {
  model: string;
  version: string;
  precision: Precision;
  engine: EngineName;
  cached: boolean;
  outputs: TensorMap;
  /** How hybrid routing served it; set by the router, absent on direct runtime calls. */
  route?: RouteOutcome;
}

/** Wiring of the {@link InferenceRuntime}. */
export interface InferenceRuntimeOptions {
  models: ModelStore;
  files: ModelFiles;
  cache: ResultCache;
  uploader: ResultUploader;
  profile: ResolvedProfile;
  /** Overrides the profile's intra-op threads. */
  intraOpThreads?: number;
  /** A version no engine can warm up without real inputs: admitted unwarmed (default) or refused. */
  unwarmed?: UnwarmedPolicy;
  /** Called after every activation attempt, admitted or not (the report changed). */
  onChange?: () => void;
  log: Logger;
  /** The engine table (tests may pass a subset); the full registry by default. */
  registry?: Readonly<Record<EngineName, Engine>>;
  /**
   * Observer of every inference of an active version, answered or failed, with its inputs
   * (per-model metrics and the shadow runner). Must be cheap and not throw.
   */
  onInfer?: (o: InferenceObservation & { inputs: TensorMap }) => void;
}

/**
 * The agent's models at run time: activation with admission over the profile's
 * engines and variants, inference with signature checks, the result cache and the upload
 * policy, and the report for status and the reported state.
 *
 * Beside it: the admission of one installed version (`version-admission.ts`), what the
 * runtime holds per loaded version (`active-model.ts`) with its count of runs in flight
 * (`runs-in-flight.ts`), and one call on the fast path (`LocalRun`, `local-run.ts`).
 */
export class InferenceRuntime {
  readonly #o: InferenceRuntimeOptions;
  readonly #active = new Map<string, ActiveModel>();
  /** Per model, the previously active version, still loaded. */
  readonly #warm = new Map<string, ActiveModel>();
  /** Per model, the shadow candidate. */
  readonly #shadows = new Map<string, ActiveModel>();
  #queue: Promise<unknown> = Promise.resolve();

  constructor(options: InferenceRuntimeOptions) {
    this.#o = options;
  }

  /** Activations run one at a time (an install racing a start-up load cannot interleave). */
  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.#queue.then(fn, fn);
    this.#queue = next.catch(() => undefined);
    return next;
  }

  /** Re-admits every model marked active in the store (at start). Failures are reported, not thrown. */
  async loadActive(): Promise<void> {
    for (const row of this.#o.models.active()) {
      await this.activate(row.name, row.version, row.precision).catch((err: unknown) => {
        this.#o.log.warn({ model: row.name, version: row.version, err }, 'active model could not be loaded');
      });
    }
  }

  /**
   * Activates `name@version`: tries its variants in the profile's precision order (a
   * `preferred` one first), each over the profile's engines, and switches the active
   * pointer to the first admitted. Throws `INFER_MODEL_NOT_FOUND`, or `INFER_NO_ENGINE`
   * with every rejection in `details` (the previous version then stays active).
   */
  activate(name: string, version: string, preferred?: Precision): Promise<ModelRuntimeReport> {
    return this.#serial(() => this.#activate(name, version, preferred)).finally(() => this.#o.onChange?.());
  }

  async #activate(name: string, version: string, preferred?: Precision): Promise<ModelRuntimeReport> {
    const warm = this.#warm.get(name);
    if (
      warm?.model &&
      warm.manifest.version === version &&
      (preferred ?? warm.manifest.precision) === warm.manifest.precision
    ) {
      // The previous version is still loaded, so a rollback switches at once.
      this.#warm.delete(name);
      this.#o.models.setActive(name, version, warm.manifest.precision, Date.now());
      this.#o.cache.invalidate(name, { version, precision: warm.manifest.precision });
      this.#replace(name, warm);
      this.#o.log.info(
        { model: name, version, engine: warm.model.engine },
        'switched to the warm previous version',
      );
      return this.#reportOf(name) as ModelRuntimeReport;
    }
    const admitted = await admitVersion(this.#o, name, version, preferred);
    const { manifest, rejected } = admitted;
    if (admitted.model) {
      this.#o.models.setActive(name, version, manifest.precision, Date.now());
      const dropped = this.#o.cache.invalidate(name, { version, precision: manifest.precision });
      this.#replace(name, {
        manifest,
        model: admitted.model,
        rejected,
        ...(admitted.warmup ? { warmup: admitted.warmup } : {}),
        inflight: new RunsInFlight(),
      });
      this.#o.log.info(
        {
          model: name,
          version,
          precision: manifest.precision,
          engine: admitted.model.engine,
          cacheDropped: dropped,
        },
        'model activated',
      );
      return this.#reportOf(name) as ModelRuntimeReport;
    }
    const error = admitted.error;
    if (!this.#active.has(name)) {
      this.#active.set(name, { manifest, model: undefined, rejected, error, inflight: new RunsInFlight() });
    }
    throw new OutpostError('INFER_NO_ENGINE', error, { details: { rejected } });
  }

  /**
   * Loads `name@version` as the model's shadow: admitted like an activation,
   * run by the rollouts shadow runner beside the active version through {@link shadowOf};
   * never answers callers. Replaces an earlier shadow. Throws `INFER_MODEL_NOT_FOUND` or
   * `INFER_NO_ENGINE` (with the rejections).
   */
  loadShadow(name: string, version: string): Promise<void> {
    return this.#serial(async () => {
      if (this.#shadows.get(name)?.manifest.version === version) return;
      const admitted = await admitVersion(this.#o, name, version);
      if (!admitted.model) {
        throw new OutpostError('INFER_NO_ENGINE', admitted.error, {
          details: { rejected: admitted.rejected },
        });
      }
      this.#dispose(this.#shadows.get(name));
      this.#shadows.set(name, { ...admitted, model: admitted.model, inflight: new RunsInFlight() });
      this.#o.log.info({ model: name, version, engine: admitted.model.engine }, 'shadow version loaded');
    }).finally(() => this.#o.onChange?.());
  }

  /** Unloads a model's shadow, if any. */
  clearShadow(name: string): Promise<void> {
    return this.#serial(async () => {
      this.#dispose(this.#shadows.get(name));
      this.#shadows.delete(name);
    });
  }

  /**
   * The loaded shadow of a model for the shadow runner: its manifest and
   * loaded engine session; undefined when the desired state names no shadow or it is not loaded yet.
   */
  shadowOf(name: string): { manifest: Manifest; model: LoadedModel } | undefined {
    const shadow = this.#shadows.get(name);
    return shadow?.model ? { manifest: shadow.manifest, model: shadow.model } : undefined;
  }

  /**
   * Runs the loaded shadow of `name` on `inputs` for the shadow runner; the
   * run is tracked like a caller's, so an unload waits for it. Undefined when none is loaded;
   * an engine failure comes back as `error` (never thrown), with the shadow's version.
   */
  async runShadow(
    name: string,
    inputs: TensorMap,
  ): Promise<{ version: string; outputs?: TensorMap; error?: unknown } | undefined> {
    const shadow = this.#shadows.get(name);
    if (!shadow?.model) return undefined;
    const version = shadow.manifest.version;
    shadow.inflight.enter();
    try {
      return { version, outputs: await shadow.model.run(inputs) };
    } catch (error) {
      return { version, error };
    } finally {
      shadow.inflight.leave();
    }
  }

  /** Whether `name` has a loaded shadow (checked on every inference: no object built). */
  hasShadow(name: string): boolean {
    return this.#shadows.get(name)?.model !== undefined;
  }

  /** The version kept loaded for an instant rollback, if any. */
  previousOf(name: string): { version: string; precision: Precision } | undefined {
    const warm = this.#warm.get(name);
    return warm?.model ? { version: warm.manifest.version, precision: warm.manifest.precision } : undefined;
  }

  /** Closes a displaced model once its runs settle. */
  #dispose(entry: ActiveModel | undefined): void {
    const model = entry?.model;
    if (!entry || !model) return;
    void entry.inflight.settled().then(() => model.close().catch(() => undefined));
  }

  /**
   * Makes `next` active. The displaced version stays loaded as the warm previous one (
   * instant rollback) unless it is the same version; the one it displaces from there is closed.
   */
  #replace(name: string, next: ActiveModel): void {
    const prev = this.#active.get(name);
    this.#active.set(name, next);
    if (!prev?.model || prev.manifest.version === next.manifest.version) {
      this.#dispose(prev);
      return;
    }
    this.#dispose(this.#warm.get(name));
    this.#warm.set(name, prev);
  }

  #get(name: string): ActiveModel & { model: LoadedModel } {
    const active = this.#active.get(name);
    if (!active) throw new OutpostError('INFER_MODEL_NOT_FOUND', `no active model "${name}"`);
    if (!active.model)
      throw new OutpostError('INFER_NO_ENGINE', active.error, { details: { rejected: active.rejected } });
    return active as ActiveModel & { model: LoadedModel };
  }

  /** The signature of an active model, as its engine declares it. */
  signature(name: string): ModelSignature {
    return this.#get(name).model.signature;
  }

  /**
   * Runs an active model on one set of inputs. Rejects with `INFER_MODEL_NOT_FOUND`,
   * `INFER_NO_ENGINE`, `INFER_BAD_INPUT` (naming each tensor, the expected and the
   * received) or `INFER_ENGINE_FAILED`. `answered` is called with the result before the
   * returned promise resolves.
   *
   * A call that neither reads the cache nor uploads (the common case, and the only one
   * whose per-call cost shows next to a sub-millisecond model) is one synchronous pass (the
   * active entry, the compiled fit test, the policy) and one continuation on the engine's
   * promise, which builds the result, counts it and calls the observer: no async function,
   * no per-call closure over a base object, no copies of the tensors.
   */
  infer(
    name: string,
    inputs: TensorMap,
    options: InferOptions = NO_OPTIONS,
    answered?: InferAnswered,
  ): Promise<InferResult> {
    const active = this.#active.get(name);
    const model = active?.model;
    if (active === undefined || model === undefined) return Promise.reject(this.#notRunnable(name, active));
    const policy = this.#o.models.policy(name);
    if ((options.cache !== false && policy.cache) || policy.upload !== 'none')
      return this.#inferSlow(name, active as ActiveModel & { model: LoadedModel }, inputs, options, answered);
    return new LocalRun(this.#hooks, name, active, model, inputs, answered).start();
  }

  /** What a {@link LocalRun} reports to. */
  readonly #hooks: RunHooks = {
    observe: (o) => this.#o.onInfer?.(o),
    observed: () => this.#o.onInfer !== undefined,
    skip: (name) => this.#o.uploader.skip(name),
  };

  #notRunnable(name: string, active: ActiveModel | undefined): OutpostError {
    if (!active) return new OutpostError('INFER_MODEL_NOT_FOUND', `no active model "${name}"`);
    return new OutpostError('INFER_NO_ENGINE', active.error, { details: { rejected: active.rejected } });
  }

  /** A call that reads or writes the cache, or uploads: the digest, the cache and the upload record. */
  async #inferSlow(
    name: string,
    active: ActiveModel & { model: LoadedModel },
    inputs: TensorMap,
    options: InferOptions,
    answered: InferAnswered | undefined,
  ): Promise<InferResult> {
    const observe = this.#o.onInfer;
    const started = performance.now();
    const version = active.manifest.version;
    try {
      const result = await this.#infer(name, active, inputs, options);
      answered?.(result);
      observe?.({
        model: name,
        version,
        engine: active.model.engine,
        role: 'active',
        latencyMs: performance.now() - started,
        outputs: result.outputs,
        inputs,
      });
      return result;
    } catch (err) {
      observe?.({
        model: name,
        version,
        engine: active.model.engine,
        role: 'active',
        latencyMs: performance.now() - started,
        outputs: undefined,
        inputs,
      });
      throw err;
    }
  }

  async #infer(
    name: string,
    active: ActiveModel & { model: LoadedModel },
    inputs: TensorMap,
    options: InferOptions,
  ): Promise<InferResult> {
    const { manifest, model } = active;
    assertInputs(model.signature, inputs, name);
    const policy = this.#o.models.policy(name);
    const useCache = options.cache !== false && policy.cache;
    // The digest (SHA-256 over the input bytes) is only paid for when the cache or an upload needs it.
    const inputDigest = useCache || policy.upload !== 'none' ? digestTensors(inputs) : '';
    const parts = {
      model: name,
      version: manifest.version,
      precision: manifest.precision,
      preprocessing: options.preprocessing ?? policy.preprocessing,
      inputDigest,
    };
    const key = useCache ? cacheKey(parts) : '';
    const resultOf = (cached: boolean, outputs: TensorMap): InferResult => ({
      model: name,
      version: manifest.version,
      precision: manifest.precision,
      engine: model.engine,
      cached,
      outputs,
    });
    if (useCache) {
      const hit = this.#o.cache.get(key);
      if (hit) {
        const result = resultOf(true, decodeTensors(hit).tensors);
        this.#upload(policy, result, inputDigest);
        return result;
      }
    }
    active.inflight.enter();
    let outputs: TensorMap;
    try {
      outputs = await model.run(inputs);
    } catch (err) {
      throw engineFailed(name, model, err);
    } finally {
      active.inflight.leave();
    }
    if (useCache && !Object.values(outputs).some((t) => t.dtype === 'string')) {
      this.#o.cache.put(key, parts, encodeTensors(outputs));
    }
    const result = resultOf(false, outputs);
    this.#upload(policy, result, inputDigest);
    return result;
  }

  #upload(policy: ModelPolicy, result: InferResult, inputDigest: string): void {
    // Nothing to build for a model that uploads nothing: only its counter moves.
    if (policy.upload === 'none') this.#o.uploader.skip(result.model);
    else this.#o.uploader.offer(policy, { ...result, inputDigest }, Date.now());
  }

  /** Upload counters of a model. */
  uploads(name: string): UploadCounters {
    return this.#o.uploader.counters(name);
  }

  #reportOf(name: string): ModelRuntimeReport | undefined {
    const a = this.#active.get(name);
    if (!a) return undefined;
    return {
      name,
      version: a.manifest.version,
      precision: a.manifest.precision,
      engine: a.model?.engine ?? null,
      rejected: a.rejected.slice(0, 16),
      ...(a.model && a.warmup ? { warmup: a.warmup } : {}),
      ...(a.error && !a.model ? { error: a.error.slice(0, 2048) } : {}),
    };
  }

  /** The `inference` part of status and the reported state. */
  report(): InferenceReport {
    const { profile, source, reason } = this.#o.profile;
    return {
      profile: { name: profile.name, source, reason: reason.slice(0, 1024) },
      models: [...this.#active.keys()].sort().map((n) => this.#reportOf(n) as ModelRuntimeReport),
      cache: this.#o.cache.report(),
    };
  }

  /** Closes every session once its runs settle. */
  async close(): Promise<void> {
    await this.#queue;
    for (const a of [...this.#active.values(), ...this.#warm.values(), ...this.#shadows.values()]) {
      await a.inflight.settled();
      await a.model?.close().catch(() => undefined);
    }
    this.#active.clear();
    this.#warm.clear();
    this.#shadows.clear();
    this.#o.cache.flush();
  }
}
