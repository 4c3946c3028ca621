import { inputsFit, type LoadedModel, type TensorMap, throwInputProblems } from '../../inference/index.js';
import { OutpostError } from '../../shared/index.js';
import type { InferenceObservation } from '../metrics/model-metrics.js';
import type { ActiveModel } from './active-model.js';
import type { InferAnswered, InferResult } from './runtime.js';

/**
 * What a {@link LocalRun} reports to (the runtime's observer and uploader); one object per
 * runtime, shared by all its calls.
 */
export interface RunHooks {
  /** Observes an answered or failed call (per-model metrics, the shadow runner). */
  observe(o: InferenceObservation & { inputs: TensorMap }): void;
  /** Whether anyone observes: when not, no observation is built. */
  observed(): boolean;
  /** Counts an answer of a model whose policy uploads nothing (`ResultUploader.skip`). */
  skip(name: string): void;
}

/** The `INFER_ENGINE_FAILED` error of a run that the engine failed (fast and slow paths alike). */
export function engineFailed(name: string, model: LoadedModel, err: unknown): OutpostError {
  return new OutpostError('INFER_ENGINE_FAILED', `${name} on ${model.engine}: ${(err as Error).message}`, {
    cause: err,
  });
}

/**
 * One call on the fast path of `InferenceRuntime.infer` (no cache, no upload): its state in
 * one object, continued once when the engine answers (fused into the engine's own continuation
 * where it offers `runThen`). It checks the inputs, counts the run in flight, builds the
 * result, counts the skipped upload, calls `answered` and the observer.
 */
export class LocalRun {
  #started = 0;
  constructor(
    private readonly hooks: RunHooks,
    private readonly name: string,
    private readonly active: ActiveModel,
    private readonly model: LoadedModel,
    private readonly inputs: TensorMap,
    private readonly answered: InferAnswered | undefined,
  ) {}

  start(): Promise<InferResult> {
    const { model, inputs } = this;
    this.#started = performance.now();
    if (!inputsFit(model.signature, inputs)) {
      try {
        throwInputProblems(model.signature, inputs, this.name);
      } catch (err) {
        this.#observe(undefined);
        return Promise.reject(err);
      }
    }
    this.active.inflight.enter();
    // One continuation: the engine's own when it can fuse it (onnxruntime engines do). The
    // callbacks are written inline: a named closure made per call costs an
    // Object.defineProperty per call where the code runs through tsx (esbuild's keepNames).
    return model.runThen
      ? model.runThen(
          inputs,
          (outputs) => this.#done(outputs),
          (err: unknown) => this.#failed(err),
        )
      : model.run(inputs).then(
          (outputs) => this.#done(outputs),
          (err: unknown) => this.#failed(err),
        );
  }

  #done(outputs: TensorMap): InferResult {
    this.active.inflight.leave();
    const { manifest } = this.active;
    const result: InferResult = {
      model: this.name,
      version: manifest.version,
      precision: manifest.precision,
      engine: this.model.engine,
      cached: false,
      outputs,
    };
    this.hooks.skip(this.name);
    this.answered?.(result);
    this.#observe(outputs);
    return result;
  }

  #failed(err: unknown): never {
    this.active.inflight.leave();
    this.#observe(undefined);
    throw engineFailed(this.name, this.model, err);
  }

  #observe(outputs: TensorMap | undefined): void {
    const { hooks } = this;
    if (!hooks.observed()) return;
    hooks.observe({
      model: this.name,
      version: this.active.manifest.version,
      engine: this.model.engine,
      role: 'active',
      latencyMs: performance.now() - this.#started,
      outputs,
      inputs: this.inputs,
    });
  }
}
