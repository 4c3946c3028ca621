import type { Logger } from 'pino';
import type { TensorMap } from '../../inference/index.js';
import { answersAgree } from './confidence.js';
import type { InferenceObservation, ModelMetrics } from './model-metrics.js';

/** What the shadow runner needs. */
export interface ShadowRunnerOptions {
  /**
   * Runs the model's loaded shadow on inputs (`InferenceRuntime.runShadow`): its version and
   * outputs, or the error; undefined when none is loaded.
   */
  run(
    model: string,
    inputs: TensorMap,
  ): Promise<{ version: string; outputs?: TensorMap; error?: unknown } | undefined>;
  /** True when the model has a loaded shadow (a cheap check before queueing). */
  has(model: string): boolean;
  metrics: ModelMetrics;
  /** Most shadow runs queued or running at once; more are skipped (counted, warned). Default 4. */
  maxPending?: number;
  log: Logger;
}

/**
 * Shadow mode on the agent: after a caller got its answer from the active
 * version, the same inputs run on the model's shadow candidate off the caller's path (on a
 * later turn of the event loop); the shadow's answer is never returned to anyone. Its
 * requests, errors, latency and confidence are counted under role `shadow`, and each answer
 * is compared with the active one (`answersAgree`: same top class per row, or within
 * tolerance) into `compared`/`agreed`. When shadows fall behind (more than `maxPending`),
 * new inputs are skipped rather than queued without bound: agreement is then measured on a
 * sample, and the active path never waits.
 */
export class ShadowRunner {
  readonly #o: ShadowRunnerOptions;
  readonly #max: number;
  #pending = 0;
  #skipped = 0;

  constructor(options: ShadowRunnerOptions) {
    this.#o = options;
    this.#max = options.maxPending ?? 4;
  }

  /** Shadow runs skipped because too many were pending. */
  get skipped(): number {
    return this.#skipped;
  }

  /** Observer of active inferences (wired into the runtime's `onInfer`). */
  observe(o: InferenceObservation & { inputs: TensorMap }): void {
    if (o.role !== 'active' || o.outputs === undefined || !this.#o.has(o.model)) return;
    if (this.#pending >= this.#max) {
      if (this.#skipped++ % 1000 === 0)
        this.#o.log.warn(
          { model: o.model, skipped: this.#skipped },
          'shadow runs fall behind; inputs skipped',
        );
      return;
    }
    this.#pending++;
    const active = o.outputs;
    setImmediate(() => {
      void this.#shadow(o.model, o.inputs, active)
        .catch((err: unknown) => this.#o.log.warn({ err, model: o.model }, 'shadow run could not start'))
        .finally(() => {
          this.#pending--;
        });
    });
  }

  async #shadow(model: string, inputs: TensorMap, active: TensorMap): Promise<void> {
    const started = performance.now();
    const answer = await this.#o.run(model, inputs);
    if (answer === undefined) return;
    this.#record(model, answer.version, started, answer.outputs);
    if (answer.outputs === undefined) {
      this.#o.log.debug({ model, version: answer.version, err: answer.error }, 'shadow run failed');
      return;
    }
    this.#o.metrics.recordComparison(model, answer.version, answersAgree(active, answer.outputs));
  }

  #record(model: string, version: string, started: number, outputs: TensorMap | undefined): void {
    this.#o.metrics.record({
      model,
      version,
      role: 'shadow',
      latencyMs: performance.now() - started,
      outputs,
    });
  }
}
