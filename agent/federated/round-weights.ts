import { createHash } from 'node:crypto';
import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { OutpostError, verifyFlWeights } from '../../shared/index.js';
import type { FlTask } from '../../shared/messages/federated.js';
import { assertFreeDisk } from '../delivery/checks.js';
import { downloadArtifact } from '../delivery/download.js';
import type { DeliveryStore } from '../store/delivery-store.js';

/** Directory under the agent's data dir holding rounds' global weights while they download. */
export const FL_WEIGHTS_DIR = 'fl-weights';

/** What {@link RoundWeights} needs: the delivery path's settings. */
export interface RoundWeightsOptions {
  dataDir: string;
  hubHttpUrl: string;
  /** `Basic …` of the device. */
  authorization: string;
  /** The hub's public keys (`delivery.trustedKeys`): the weights' reference is signed. */
  trustedKeys: readonly string[];
  /** Download progress (the delivery store: a cut or a restart resumes). */
  store: DeliveryStore;
  /** Bandwidth cap, bytes/s (`delivery.bandwidthBytesPerS`); 0 = none. */
  bandwidthBps: number;
  checkpointBytes: number;
  fetch?: ((url: string, init: RequestInit) => Promise<Response>) | undefined;
  log: Logger;
  now: () => number;
}

/**
 * A round's global weights taken as an artifact: the task's signed reference
 * is verified against the trusted hub keys (it names the task and the round), the artifact
 * is downloaded with the model-delivery downloader (`GET /v1/artifacts/{sha256}`, Range
 * resume, durable progress, the bandwidth cap) into `{dataDir}/fl-weights/`, and its size and
 * SHA-256 are checked before it is decoded. The file stays until the round is done on the
 * device (a restart before that does not download it again).
 */
export class RoundWeights {
  readonly #o: RoundWeightsOptions;
  readonly #dir: string;

  constructor(options: RoundWeightsOptions) {
    this.#o = options;
    this.#dir = join(options.dataDir, FL_WEIGHTS_DIR);
  }

  /** The weights' bytes (update codec, compression `none`). Throws `PROTO_*`, `AGENT_*`. */
  async load(task: FlTask, signal?: AbortSignal): Promise<Uint8Array> {
    const ref = task.weightsArtifact;
    if (ref === undefined) throw new OutpostError('AGENT_BAD_REQUEST', `task ${task.id} embeds its weights`);
    verifyFlWeights(task.id, task.round, ref, this.#o.trustedKeys);
    const file = join(this.#dir, `${ref.sha256}.part`);
    const staged = this.#o.store.download(ref.sha256)?.bytes ?? 0;
    await assertFreeDisk(this.#o.dataDir, ref.size - staged);
    const result = await downloadArtifact({
      url: new URL(`/v1/artifacts/${ref.sha256}`, this.#o.hubHttpUrl).toString(),
      authorization: this.#o.authorization,
      name: `fl:${task.id}`,
      version: String(task.round),
      sha256: ref.sha256,
      size: ref.size,
      file,
      store: this.#o.store,
      bandwidthBps: this.#o.bandwidthBps,
      checkpointBytes: this.#o.checkpointBytes,
      onProgress: () => undefined,
      signal,
      now: this.#o.now,
      ...(this.#o.fetch ? { fetch: this.#o.fetch } : {}),
    });
    const bytes = await readFile(file);
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    if (bytes.byteLength !== ref.size || sha256 !== ref.sha256) {
      await this.#forget(ref.sha256);
      throw new OutpostError(
        'AGENT_ARTIFACT_MISMATCH',
        `global weights of ${task.id} round ${task.round}: ${bytes.byteLength} bytes hashing to ${sha256}; the task says ${ref.size} bytes, ${ref.sha256}`,
      );
    }
    if (result.fetched > 0) {
      this.#o.log.info(
        {
          task: task.id,
          round: task.round,
          sha256,
          resumedFrom: result.resumedFrom,
          fetched: result.fetched,
        },
        'federated global weights downloaded and verified',
      );
    }
    return bytes;
  }

  /** Removes every downloaded or partial global model except `keep`'s (a round done, a task gone). */
  async prune(keep?: string): Promise<void> {
    let names: string[];
    try {
      names = await readdir(this.#dir);
    } catch {
      return;
    }
    for (const name of names) {
      const sha = /^([0-9a-f]{64})\.part$/.exec(name)?.[1];
      if (sha !== keep)
        await (sha === undefined ? rm(join(this.#dir, name), { force: true }) : this.#forget(sha));
    }
  }

  async #forget(sha256: string): Promise<void> {
    this.#o.store.dropDownload(sha256);
    await rm(join(this.#dir, `${sha256}.part`), { force: true });
  }
}
