import type { Logger } from 'pino';
import { ZodError } from 'zod';
import { type EventEnvelope, OutpostError } from '../../shared/index.js';
import {
  FL_EVAL,
  FL_UPDATE_CHUNK,
  FL_UPDATE_UPLOAD,
  FlEvalSchema,
  FlUpdateChunkSchema,
  FlUpdateUploadSchema,
} from '../../shared/messages/federated.js';
import type { FederatedStore, FlTaskRecord } from '../store/federated-types.js';
import type { FlTaskSpec } from './task-spec.js';
import { maxUpdateBytes, uploadParts } from './uploads.js';

/** Why a federated event was not taken, counted per reason. */
export type FlDropReason =
  | 'invalid-chunk'
  | 'invalid-upload'
  | 'invalid-eval'
  | 'unknown-task'
  | 'unknown-round'
  | 'not-selected'
  | 'late'
  | 'stale'
  | 'secagg-refused';

/** Collaborators of {@link FlIngest}. */
export interface FlIngestDeps {
  store: FederatedStore;
  log: Logger;
  now: () => number;
  /** An update is complete (every chunk held): the round runner may act. */
  onComplete(taskId: string): void;
  /** A secure-aggregation message (`fl.secagg.*`), stored; rejects naming why it does not fit. */
  onSecure?: (deviceId: string, type: string, body: unknown) => Promise<void>;
}

/**
 * Takes the `learning`-lane events the hub has just stored exactly once
 * and files them: chunks of open rounds are kept (a duplicate chunk is ignored by its
 * `(task, round, device, index)` key), an uploaded update's event is kept as its chunk 0
 * (its parts come over HTTP: hub/federated/uploads.ts), evaluations stored. **Late-update policy**: in sync
 * mode an update for a round that is no longer open is recorded once as `late` (the
 * per-(task, round, device) key) and never aggregated; in async mode an update for an older
 * model version is kept and weighted by its staleness, unless older than `maxStaleness`
 * (`stale`, refused). Chunks from a device the round was not published to are refused
 * (`not-selected`). Nothing here throws: every refusal is counted with its reason and logged.
 */
export class FlIngest {
  readonly #d: FlIngestDeps;
  readonly #dropped = new Map<FlDropReason, number>();

  constructor(deps: FlIngestDeps) {
    this.#d = deps;
  }

  /** Refusals since start, per reason. */
  dropped(): Record<string, number> {
    return Object.fromEntries(this.#dropped);
  }

  /** Files the events of one device (call in the device's ingest order). */
  async handle(deviceId: string, events: readonly EventEnvelope[]): Promise<void> {
    for (const event of events) {
      try {
        if (event.type === FL_UPDATE_CHUNK) await this.#chunk(deviceId, event.body);
        else if (event.type === FL_UPDATE_UPLOAD) await this.#upload(deviceId, event.body);
        else if (event.type === FL_EVAL) await this.#eval(deviceId, event.body);
        else if (event.type.startsWith('fl.secagg.')) await this.#secure(deviceId, event.type, event.body);
      } catch (err) {
        this.#d.log.error({ err, deviceId, seq: event.seq }, 'filing a federated event failed');
      }
    }
  }

  #drop(reason: FlDropReason, deviceId: string, detail: Record<string, unknown>): void {
    const n = (this.#dropped.get(reason) ?? 0) + 1;
    this.#dropped.set(reason, n);
    if (n <= 20 || n % 100 === 0)
      this.#d.log.warn({ deviceId, reason, count: n, ...detail }, 'federated event refused');
  }

  async #chunk(deviceId: string, body: unknown): Promise<void> {
    const parsed = FlUpdateChunkSchema.safeParse(body);
    if (!parsed.success)
      return this.#drop('invalid-chunk', deviceId, { problem: parsed.error.issues[0]?.message });
    const c = parsed.data;
    if ((await this.#admit(deviceId, c.task, c.round)) === undefined) return;
    const held = await this.#d.store.putFlChunk({
      taskId: c.task,
      round: c.round,
      deviceId,
      index: c.index,
      total: c.total,
      digest: c.digest,
      bytes: Buffer.from(c.bytes, 'base64'),
      meta: { examples: c.examples, norm: c.norm, clipped: c.clipped, loss: c.loss, accuracy: c.accuracy },
      at: this.#d.now(),
    });
    if (held >= c.total) this.#d.onComplete(c.task);
  }

  /** An uploaded update's event: its chunk 0 (no bytes, the figures); the parts are chunks 1..n. */
  async #upload(deviceId: string, body: unknown): Promise<void> {
    const parsed = FlUpdateUploadSchema.safeParse(body);
    if (!parsed.success)
      return this.#drop('invalid-upload', deviceId, { problem: parsed.error.issues[0]?.message });
    const u = parsed.data;
    const task = await this.#admit(deviceId, u.task, u.round);
    if (task === undefined) return;
    const spec = task.spec as FlTaskSpec;
    const max = maxUpdateBytes(spec);
    if (u.size > max || (spec.secagg && u.size !== max)) {
      const problem = spec.secagg
        ? `a masked input of ${max} bytes, not ${u.size}`
        : `${u.size} bytes is too large`;
      return this.#drop('invalid-upload', deviceId, { task: u.task, round: u.round, problem });
    }
    const total = uploadParts(u.size) + 1;
    const held = await this.#d.store.putFlChunk({
      taskId: u.task,
      round: u.round,
      deviceId,
      index: 0,
      total,
      digest: u.sha256,
      bytes: new Uint8Array(0),
      meta: {
        examples: u.examples,
        norm: u.norm,
        clipped: u.clipped,
        loss: u.loss,
        accuracy: u.accuracy,
        upload: { size: u.size },
      },
      at: this.#d.now(),
    });
    if (held >= total) this.#d.onComplete(u.task);
  }

  /**
   * The task when an update of `deviceId` for `(taskId, round)` is to be kept; else the
   * refusal is counted (unknown, not selected) or the update recorded as `late` or stale.
   */
  async #admit(deviceId: string, taskId: string, round: number): Promise<FlTaskRecord | undefined> {
    const { store } = this.#d;
    const task = await store.getFlTask(taskId);
    if (task === undefined) return void this.#drop('unknown-task', deviceId, { task: taskId });
    const spec = task.spec as FlTaskSpec;
    const r = await store.getFlRound(taskId, round);
    if (r === undefined) return void this.#drop('unknown-round', deviceId, { task: taskId, round });
    if (!r.selected.includes(deviceId))
      return void this.#drop('not-selected', deviceId, { task: taskId, round });
    const at = this.#d.now();
    if (spec.mode === 'sync' && r.status !== 'open') {
      const first = await store.putFlUpdate({
        taskId,
        round,
        deviceId,
        status: 'late',
        reason: `round ${round} was already ${r.status} (sync mode: late updates are discarded)`,
        appliedIn: null,
        at,
      });
      if (first) this.#drop('late', deviceId, { task: taskId, round });
      return undefined;
    }
    if (spec.mode === 'async' && task.round - round > spec.maxStaleness) {
      const first = await store.putFlUpdate({
        taskId,
        round,
        deviceId,
        status: 'rejected',
        reason: `staleness: trained on version ${round}, current ${task.round}, limit ${spec.maxStaleness}`,
        appliedIn: null,
        at,
      });
      if (first) this.#drop('stale', deviceId, { task: taskId, round });
      return undefined;
    }
    return task;
  }

  async #secure(deviceId: string, type: string, body: unknown): Promise<void> {
    try {
      if (this.#d.onSecure === undefined)
        throw new OutpostError('FL_SECAGG_FAILED', 'this hub runs no secure aggregation');
      await this.#d.onSecure(deviceId, type, body);
    } catch (err) {
      // Only the message's own faults are refusals; anything else (the store unreachable) is
      // a filing failure, filed again by a resend or by the next driver's re-filing.
      const refused = err instanceof ZodError || (err instanceof OutpostError && err.code.startsWith('FL_'));
      if (!refused) throw err;
      this.#drop('secagg-refused', deviceId, { type, problem: (err as Error).message });
    }
  }

  async #eval(deviceId: string, body: unknown): Promise<void> {
    const parsed = FlEvalSchema.safeParse(body);
    if (!parsed.success)
      return this.#drop('invalid-eval', deviceId, { problem: parsed.error.issues[0]?.message });
    const e = parsed.data;
    const round = await this.#d.store.getFlRound(e.task, e.round);
    if (round === undefined) return this.#drop('unknown-round', deviceId, { task: e.task, round: e.round });
    await this.#d.store.putFlEval({ taskId: e.task, deviceId, ...e });
  }
}
