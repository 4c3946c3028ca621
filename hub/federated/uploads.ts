import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import { secureInputLength } from '../../federated/index.js';
import { OutpostError } from '../../shared/index.js';
import { FL_UPLOAD_PART_BYTES } from '../../shared/messages/federated.js';
import type { FederatedStore, FlChunkHead, FlTaskRecord } from '../store/federated-types.js';
import type { FlTaskSpec } from './task-spec.js';
import { updateShapes, updateTensorNames } from './update-tensors.js';

/** What {@link FlUploads} needs. */
export interface FlUploadsDeps {
  store: FederatedStore;
  log: Logger;
  now: () => number;
  /** An update became complete (its event and every part held): the round runner may act. */
  onComplete(taskId: string): void;
}

/** Where a device's upload for `(task, round)` stands. */
export interface UploadState {
  /** Bytes held from the start without a gap: where the device resumes. */
  offset: number;
  /** The whole update's size, once complete; else null. */
  length: number | null;
  /** The SHA-256 the parts held declare; null before any part. */
  sha256: string | null;
  /** Every part is held and the bytes hash to `sha256`. */
  complete: boolean;
}

/** One part of an upload, as `PATCH` sends it. */
export interface UploadPart {
  offset: number;
  /** Size and SHA-256 of the whole update. */
  length: number;
  sha256: string;
  bytes: Uint8Array;
}

/** Parts of an upload of `length` bytes; the update is held as chunk 0 (its event) + 1..n. */
export const uploadParts = (length: number) => Math.ceil(length / FL_UPLOAD_PART_BYTES);

/**
 * The largest update the codec can make for `spec`'s shapes: 8 bytes per value (top-k's
 * index and value; float32 and int8 need less), plus room for the headers. A secure task's
 * update is its masked input: exactly one 4-byte word per value it carries, plus the weight.
 */
export function maxUpdateBytes(spec: Pick<FlTaskSpec, 'shapes' | 'secagg' | 'topology'>): number {
  if (spec.secagg) return secureInputBytes(spec);
  const values = spec.shapes.reduce((n, s) => n + s.shape.reduce((a, d) => a * d, 1), 0);
  return values * 8 + spec.shapes.length * 1024 + 4096;
}

/** The size of a secure task's masked input: 4 bytes per word (`secureInputLength`). */
export function secureInputBytes(spec: Pick<FlTaskSpec, 'shapes' | 'topology'>): number {
  return 4 * secureInputLength(updateShapes(spec.shapes, updateTensorNames(spec)));
}

const refused = (message: string) => new OutpostError('FL_UPLOAD_REFUSED', message);

/**
 * Devices' updates uploaded over HTTP in parts (`HEAD|PATCH
 * /v1/federated/uploads/{task}/{round}`, hub/http/federated-uploads.ts). A part is stored as
 * chunk `offset / FL_UPLOAD_PART_BYTES + 1` of the update (a part sent twice is stored once:
 * the chunk key), so a cut link or a restarted agent asks where it stands (`head`) and goes
 * on from there. The part that completes the upload is kept only if the whole hashes to the
 * declared SHA-256 (else every part is dropped and the upload starts over). The update
 * counts once its `fl.update.upload` event is filed too (chunk 0, hub/federated/ingest.ts).
 *
 * Authorization: only a device selected in the round may upload (or ask) for it; a part is
 * taken only while the round takes updates (sync: open; async: within `maxStaleness`), the
 * device's update is not decided. In a secure round the upload is the device's masked input
 * (its exact size is known: one word per value), read by the secure round once complete.
 */
export class FlUploads {
  readonly #d: FlUploadsDeps;
  /** Parts of one device's upload are taken one at a time (per process). */
  readonly #queues = new Map<string, Promise<unknown>>();

  constructor(deps: FlUploadsDeps) {
    this.#d = deps;
  }

  /** Where `deviceId`'s upload for `(taskId, round)` stands. */
  async head(deviceId: string, taskId: string, round: number): Promise<UploadState> {
    await this.#admit(deviceId, taskId, round, false);
    return state(await this.#d.store.getFlChunkHeads(taskId, round, deviceId));
  }

  /** Takes one part; returns where the upload stands after it. */
  patch(deviceId: string, taskId: string, round: number, part: UploadPart): Promise<UploadState> {
    const key = `${taskId}\u0000${round}\u0000${deviceId}`;
    const run = (this.#queues.get(key) ?? Promise.resolve())
      .catch(() => undefined)
      .then(() => this.#patch(deviceId, taskId, round, part));
    this.#queues.set(key, run);
    return run.finally(() => {
      if (this.#queues.get(key) === run) this.#queues.delete(key);
    });
  }

  async #patch(deviceId: string, taskId: string, round: number, part: UploadPart): Promise<UploadState> {
    const task = await this.#admit(deviceId, taskId, round, true);
    const { store } = this.#d;
    const spec = task.spec as FlTaskSpec;
    const max = maxUpdateBytes(spec);
    if (part.length > max)
      throw refused(`an update of ${part.length} bytes exceeds the ${max} this task's model can make`);
    if (spec.secagg && part.length !== max)
      throw refused(`a masked input of this task is ${max} bytes, not ${part.length}`);
    const n = uploadParts(part.length);
    const expected = Math.min(FL_UPLOAD_PART_BYTES, part.length - part.offset);
    if (part.offset % FL_UPLOAD_PART_BYTES !== 0 || part.offset >= part.length) {
      throw new OutpostError(
        'HUB_BAD_REQUEST',
        `Upload-Offset ${part.offset} must be a multiple of ${FL_UPLOAD_PART_BYTES} below ${part.length}`,
      );
    }
    if (part.bytes.byteLength !== expected) {
      throw new OutpostError(
        'HUB_BAD_REQUEST',
        `the part at ${part.offset} must hold ${expected} bytes, not ${part.bytes.byteLength}`,
      );
    }
    let heads = await store.getFlChunkHeads(taskId, round, deviceId);
    const event = heads.find((h) => h.index === 0);
    if (event !== undefined && (event.digest !== part.sha256 || event.total !== n + 1)) {
      throw refused(`the update's event names sha256 ${event.digest}; this upload is another update`);
    }
    const held = heads.filter((h) => h.index > 0);
    if (held.some((h) => h.digest !== part.sha256 || h.total !== n + 1)) {
      if (held.length >= (held[0]?.total ?? 1) - 1)
        throw refused('another update was uploaded for this round already');
      // An unfinished upload of other bytes: start over.
      await store.dropFlChunks(taskId, round, deviceId, 1);
      this.#d.log.warn({ deviceId, task: taskId, round }, 'unfinished upload of another update dropped');
      heads = event ? [event] : [];
    }
    const index = part.offset / FL_UPLOAD_PART_BYTES + 1;
    const now = state(heads);
    if (heads.some((h) => h.index === index)) return now;
    if (part.offset > now.offset) {
      throw new OutpostError('FL_UPLOAD_OFFSET', `the upload holds ${now.offset} bytes; send from there`, {
        details: { offset: now.offset },
      });
    }
    const parts = heads.filter((h) => h.index > 0).length;
    if (parts === n - 1) await this.#verify(deviceId, taskId, round, part, index);
    const count = await store.putFlChunk({
      taskId,
      round,
      deviceId,
      index,
      total: n + 1,
      digest: part.sha256,
      bytes: part.bytes,
      meta: {},
      at: this.#d.now(),
    });
    if (count >= n + 1) this.#d.onComplete(taskId);
    return state(await store.getFlChunkHeads(taskId, round, deviceId));
  }

  /** The last part: the whole must hash to the declared SHA-256, else every part is dropped. */
  async #verify(deviceId: string, taskId: string, round: number, part: UploadPart, index: number) {
    const chunks = await this.#d.store.getFlChunks(taskId, round, deviceId);
    const hash = createHash('sha256');
    let fed = false;
    for (const c of chunks) {
      if (c.index === 0) continue;
      if (!fed && c.index > index) {
        hash.update(part.bytes);
        fed = true;
      }
      hash.update(c.bytes);
    }
    if (!fed) hash.update(part.bytes);
    const actual = hash.digest('hex');
    if (actual === part.sha256) return;
    await this.#d.store.dropFlChunks(taskId, round, deviceId, 1);
    this.#d.log.warn(
      { deviceId, task: taskId, round, actual },
      'uploaded update hashed wrong; parts dropped',
    );
    throw new OutpostError(
      'FL_BAD_UPDATE',
      `the uploaded bytes hash to ${actual}, not ${part.sha256}: every part was dropped, upload again from 0`,
    );
  }

  /** The task, when `deviceId` may upload (`writing`) or ask for `(taskId, round)`; else throws. */
  async #admit(deviceId: string, taskId: string, round: number, writing: boolean): Promise<FlTaskRecord> {
    const { store } = this.#d;
    const task = await store.getFlTask(taskId);
    const r = task === undefined ? undefined : await store.getFlRound(taskId, round);
    if (task === undefined || r === undefined)
      throw new OutpostError('HUB_NOT_FOUND', `no round ${round} of federated task ${taskId}`);
    if (!r.selected.includes(deviceId))
      throw new OutpostError(
        'HUB_FORBIDDEN',
        `device ${deviceId} is not selected in round ${round} of ${taskId}`,
      );
    const spec = task.spec as FlTaskSpec;
    if (!writing) return task;
    if (task.status !== 'running') throw refused(`task ${taskId} is ${task.status}`);
    if (spec.mode === 'sync' && r.status !== 'open') throw refused(`round ${round} is ${r.status}`);
    if (spec.mode === 'async' && task.round - round > spec.maxStaleness) {
      throw refused(`version ${round} is older than ${spec.maxStaleness} versions`);
    }
    if ((await store.listFlUpdates(taskId, round)).some((u) => u.deviceId === deviceId))
      throw refused(`the update of ${deviceId} for round ${round} is decided already`);
    return task;
  }
}

/** Where an upload stands, from its chunk heads. */
function state(heads: readonly FlChunkHead[]): UploadState {
  const parts = heads.filter((h) => h.index > 0);
  const first = parts[0];
  if (first === undefined) return { offset: 0, length: null, sha256: null, complete: false };
  let contiguous = 0;
  let offset = 0;
  for (const p of parts) {
    if (p.index !== contiguous + 1) break;
    contiguous += 1;
    offset += p.size;
  }
  const complete = parts.length === first.total - 1;
  return { offset, length: complete ? offset : null, sha256: first.digest, complete };
}
