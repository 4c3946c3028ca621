import { sha256Hex } from '../../federated/index.js';
import { type DesiredState, type SigningKeyPair, signFlWeights } from '../../shared/index.js';
import type { FlWeightsArtifact } from '../../shared/messages/federated.js';
import type { ArtifactStore } from '../registry/artifact-store.js';
import type { HubStore } from '../store/types.js';

/** What {@link FlWeightsArtifacts} needs. */
export interface FlWeightsArtifactsDeps {
  store: Pick<HubStore, 'getFlWeights' | 'listFlRounds' | 'listDesired' | 'artifactInUse'>;
  artifacts: ArtifactStore;
  /** The hub's signing key in force (the registry's: it may rotate). */
  signingKey: () => SigningKeyPair;
  /** Largest artifact stored, bytes (`registry.maxArtifactBytes`). */
  maxBytes: number;
}

/** The SHA-256 of a round's published global weights, from its metrics (set at its opening). */
export function roundWeightsSha(metrics: Record<string, unknown>): string | undefined {
  const w = metrics.weights as { sha256?: unknown } | undefined;
  return typeof w?.sha256 === 'string' ? w.sha256 : undefined;
}

/**
 * A round's global model as a content-addressed artifact: the round's
 * weights (update codec, compression `none`) are stored in the hub's artifact store under
 * their SHA-256 and served by `GET /v1/artifacts/{sha256}` (Range, If-Range) to the devices
 * whose desired state references them; the reference in the task is signed by the hub's key.
 * The store stays the source of truth: an artifact missing here (published by another
 * replica, or pruned) is written again from the store on first request, and the artifacts of
 * rounds no desired state references any more are deleted.
 */
export class FlWeightsArtifacts {
  readonly #d: FlWeightsArtifactsDeps;

  constructor(deps: FlWeightsArtifactsDeps) {
    this.#d = deps;
  }

  /** Stores `bytes` as the global artifact of `(task, round)` and returns its signed reference. */
  async publish(taskId: string, round: number, bytes: Uint8Array): Promise<FlWeightsArtifact> {
    const stored = await this.#d.artifacts.putBytes(bytes, this.#d.maxBytes);
    return signFlWeights(taskId, round, stored, this.#d.signingKey());
  }

  /**
   * Makes sure the artifact `sha256` that `desired`'s federated task references is here,
   * writing it from the store's weights of that round when it is not. False when `desired`
   * references no such global model (or the store's weights hash otherwise).
   */
  async ensure(desired: DesiredState | undefined, sha256: string): Promise<boolean> {
    const task = desired?.federated?.task;
    if (task?.weightsArtifact?.sha256 !== sha256) return false;
    if ((await this.#d.artifacts.stat(sha256)) !== undefined) return true;
    const bytes = await this.#d.store.getFlWeights(task.id, task.round);
    if (bytes === undefined || sha256Hex(bytes) !== sha256) return false;
    await this.#d.artifacts.putBytes(bytes, this.#d.maxBytes);
    // `desired` was read before this write: the task may have moved on since, and its
    // `prune` may already have run (it deleted what was here, and this wrote it back).
    // Written first and checked after, one of the two always sees the other.
    if ((await this.#referenced()).has(sha256)) return true;
    await this.#deleteUnlessInUse(sha256);
    return false;
  }

  /**
   * Deletes the global artifacts of `taskId`'s rounds that no desired state references any
   * more (call after the desired states changed: a round opened, the task ended).
   */
  async prune(taskId: string): Promise<void> {
    const referenced = await this.#referenced();
    const shas = new Set<string>();
    for (const r of await this.#d.store.listFlRounds(taskId)) {
      const sha = roundWeightsSha(r.metrics);
      if (sha !== undefined && !referenced.has(sha)) shas.add(sha);
    }
    for (const sha of shas) await this.#deleteUnlessInUse(sha);
  }

  /** The global artifacts some device's desired state references now. */
  async #referenced(): Promise<Set<string>> {
    const referenced = new Set<string>();
    for (const d of await this.#d.store.listDesired()) {
      const ref = d.desired.federated?.task.weightsArtifact?.sha256;
      if (ref !== undefined) referenced.add(ref);
    }
    return referenced;
  }

  /** Content-addressed: never delete bytes a registered model version happens to share. */
  async #deleteUnlessInUse(sha256: string): Promise<void> {
    if (!(await this.#d.store.artifactInUse(sha256))) await this.#d.artifacts.delete(sha256);
  }
}
