import type { LoadedModel } from '../../inference/index.js';
import type { EngineRejection, Manifest, WarmupRecord } from '../../shared/index.js';
import type { RunsInFlight } from './runs-in-flight.js';

/**
 * One version of a model as the runtime (`InferenceRuntime`) holds it: the active one, the
 * warm previous one kept for an instant rollback, or the shadow candidate.
 */
export interface ActiveModel {
  manifest: Manifest;
  /** The admitted engine's session; undefined when no engine was admitted (see `error`). */
  model: LoadedModel | undefined;
  rejected: EngineRejection[];
  /** How the admitted engine was warmed up. */
  warmup?: WarmupRecord;
  error?: string;
  /** Runs in flight; the session is closed only once they settle. */
  inflight: RunsInFlight;
}
