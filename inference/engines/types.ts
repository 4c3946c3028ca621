import type { Logger } from 'pino';
import type { EngineName, EngineOptions } from '../../shared/index.js';
import type { ModelSource } from '../model/source.js';
import type { ModelSignature } from '../signature/validate.js';
import type { TensorMap } from '../tensor/host-tensor.js';

/** How an engine should run a model: threads and the profile's options for this engine. */
export interface EngineSettings {
  /** onnxruntime intra-op threads (default 1). */
  intraOpThreads: number;
  /** onnxruntime inter-op threads (default 1). */
  interOpThreads: number;
  options: EngineOptions;
  log: Logger;
}

/** A model opened on one engine. */
export interface LoadedModel {
  readonly engine: EngineName;
  /** Inputs and outputs as the opened model declares them. */
  readonly signature: ModelSignature;
  /**
   * Runs the model. Inputs are assumed to fit the signature (callers check first with
   * `assertInputs`); returns every declared output.
   */
  run(inputs: TensorMap): Promise<TensorMap>;
  /**
   * Optional: `run(inputs).then(onOutputs, onError)` with the caller's continuation fused
   * into the engine's own, so the caller's work happens in the same microtask that converts
   * the runtime's results (one promise hop instead of two). `onError` gets every failure,
   * synchronous ones included, never on the caller's stack.
   */
  runThen?<R>(
    inputs: TensorMap,
    onOutputs: (outputs: TensorMap) => R,
    onError: (err: unknown) => R,
  ): Promise<R>;
  /** Releases the session; idempotent. */
  close(): Promise<void>;
}

/**
 * One engine (docs/architecture.md "Engines"): a (runtime, provider) pair that can open a model. One
 * per file, registered in `ENGINES`, picked by `EngineNameSchema`.
 */
export interface Engine {
  readonly name: EngineName;
  /** Model formats its runtime reads. */
  readonly formats: readonly ModelSource['format'][];
  /** Opens `source`; rejects with the runtime's real error when it cannot. */
  load(source: ModelSource, settings: EngineSettings): Promise<LoadedModel>;
}
