import { createHash } from 'node:crypto';
import type Database from 'better-sqlite3';
import type { Logger } from 'pino';
import type {
  ChunkFn,
  ClipL2Fn,
  CompressWithFeedbackFn,
  DecodeUpdateFn,
  EncodeUpdateFn,
  EvaluateFn,
  ModelWeights,
  Samples,
  TrainLocalFn,
} from '../../federated/types.js';
import {
  FL_CHUNK_BYTES,
  FL_EVAL,
  FL_UPDATE_CHUNK,
  type FlEval,
  type FlTask,
  type FlUpdateChunk,
} from '../../shared/messages/federated.js';
import type { SampleSet, SampleStore } from '../store/sample-store.js';
import type { AgentEvent } from '../types.js';
import type { ResidualStore } from './residual-store.js';
import type { RoundMemory, RoundRecord } from './round-memory.js';
import { SecAggRunner } from './secagg-runner.js';

/** The fl-core functions the runner uses (injected: pure library code, see `federated/`). */
export interface FlLibrary {
  trainLocal: TrainLocalFn;
  evaluate: EvaluateFn;
  clipL2: ClipL2Fn;
  encodeUpdate: EncodeUpdateFn;
  decodeUpdate: DecodeUpdateFn;
  chunk: ChunkFn;
  compressWithFeedback: CompressWithFeedbackFn;
}

/** Collaborators of the {@link TaskRunner}. */
export interface TaskRunnerOptions {
  deviceId: string;
  db: Database.Database;
  samples: SampleStore;
  memory: RoundMemory;
  /** Error-feedback residuals of compressed updates (none: compression without feedback). */
  residuals?: ResidualStore;
  lib: FlLibrary;
  /** Enqueues one event durably (the agent's outbox); throws OutpostError. */
  enqueue(event: AgentEvent): unknown;
  /** Delay before a failed round is tried again, ms (default 5000). */
  retryMs?: number;
  log: Logger;
  now?: () => number;
}

/** What `GET /v1/federated` shows. */
export interface TaskRunnerStatus {
  task: { id: string; round: number; mode: string } | null;
  busy: boolean;
  lastError: string | null;
  rounds: RoundRecord[];
}

function toSamples(set: SampleSet): Samples {
  const features = set.dims.reduce((n, d) => n * d, 1);
  return { x: set.features, y: set.labels, count: set.count, features };
}

function sub(a: ModelWeights, b: ModelWeights): ModelWeights {
  return a.map((t, i) => {
    const bv = b[i]?.values;
    if (bv === undefined || bv.length !== t.values.length)
      throw new RangeError(`tensor ${t.name} changed shape`);
    const out = new Float32Array(t.values.length);
    for (let k = 0; k < out.length; k++) out[k] = (t.values[k] as number) - (bv[k] as number);
    return { name: t.name, shape: [...t.shape], values: out };
  });
}

/**
 * The part of `delta` the task's update carries: the `updateTensors` of a fine-tuning task
 * (its trainable layers), else all of it.
 */
function sentPart(task: FlTask, delta: ModelWeights): ModelWeights {
  const names = task.updateTensors;
  if (names === undefined) return delta;
  const wanted = new Set(names);
  const part = delta.filter((t) => wanted.has(t.name));
  if (part.length !== wanted.size)
    throw new Error(
      `task ${task.id}: the model has no tensor ${names.filter((n) => !part.some((t) => t.name === n)).join(', ')}`,
    );
  return part;
}

/** Whether the task's updates carry error feedback: lossy compression, not turned off. */
function usesFeedback(task: FlTask): boolean {
  return task.compression.kind !== 'none' && task.compression.errorFeedback !== false;
}

/** A stable 31-bit seed from the task's seed, the device id and the round. */
function deviceSeed(task: FlTask, deviceId: string): number {
  // Not the task id: two tasks with the same seed train alike (plain vs secure aggregation).
  const h = createHash('sha256').update(`${task.seed}:${deviceId}:${task.round}`).digest();
  return h.readUInt32LE(0) & 0x7fffffff;
}

/**
 * Runs the federated task of the desired state on this device: for a round
 * it has not done, decodes the round's global model from the task, trains on the stored
 * `train` examples (fl-core's `trainLocal`), takes the delta, clips it to `clipNorm`,
 * compresses and chunks it, and enqueues the chunks (plus, when asked, an `fl.eval` of the
 * global model on the `holdout` examples) in the `learning` lane in ONE transaction together
 * with the round's "submitted" mark. Offline, the outbox holds them until the link returns;
 * after a restart the mark says the round is done. One round trains at a time; the latest
 * task wins. A failure (e.g. a full outbox) is logged and retried after `retryMs`.
 */
export class TaskRunner {
  readonly #o: TaskRunnerOptions;
  readonly #now: () => number;
  #task: FlTask | undefined;
  #running: Promise<void> | undefined;
  #again = false;
  #lastError: string | null = null;
  #retry: NodeJS.Timeout | undefined;
  #closed = false;
  readonly #secagg: SecAggRunner;

  constructor(options: TaskRunnerOptions) {
    this.#o = options;
    this.#now = options.now ?? Date.now;
    this.#secagg = new SecAggRunner(
      options.deviceId,
      (events) => {
        for (const e of events) options.enqueue(e);
      },
      options.log,
    );
  }

  /** The desired state's task changed (or the agent started with one); undefined: none. */
  setTask(task: FlTask | undefined): void {
    this.#task = task;
    if (task !== undefined) this.#kick();
  }

  status(): TaskRunnerStatus {
    const t = this.#task;
    return {
      task: t === undefined ? null : { id: t.id, round: t.round, mode: t.mode },
      busy: this.#running !== undefined,
      lastError: this.#lastError,
      rounds: this.#o.memory.recent(20),
    };
  }

  /** Resolves once no round is training (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.#running) await this.#running;
  }

  /** Stops retries and waits for a round in progress. */
  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#retry);
    await this.idle();
  }

  #kick(): void {
    if (this.#closed) return;
    if (this.#running) {
      this.#again = true;
      return;
    }
    this.#running = this.#loop().finally(() => {
      this.#running = undefined;
    });
  }

  async #loop(): Promise<void> {
    do {
      this.#again = false;
      const task = this.#task;
      if (task === undefined || this.#o.memory.get(task.id, task.round) !== undefined) continue;
      try {
        if (task.secagg !== undefined && (this.#secagg.has(task) || task.secagg.phase !== 'advertise')) {
          this.#secureStep(task);
          continue;
        }
        await this.#runRound(task);
        this.#lastError = null;
      } catch (err) {
        this.#lastError = err instanceof Error ? err.message : String(err);
        this.#o.log.warn(
          { err, task: task.id, round: task.round },
          'federated round failed on device; will retry',
        );
        clearTimeout(this.#retry);
        this.#retry = setTimeout(() => this.#kick(), this.#o.retryMs ?? 5000);
        this.#retry.unref();
      }
    } while (this.#again && !this.#closed);
  }

  /** Enqueues `events` and runs `also` (more enqueues) in one transaction. */
  #commit(events: AgentEvent[], also: () => void = () => undefined): void {
    this.#o.db.transaction(() => {
      for (const e of events) this.#o.enqueue(e);
      also();
    })();
  }

  /** A later phase of a secure round: answer it; at the end (or when left out) mark the round. */
  #secureStep(task: FlTask): void {
    if (!this.#secagg.has(task)) {
      // Restarted mid-round: the secrets are gone, so this device drops out of the round.
      this.#o.memory.mark({
        taskId: task.id,
        round: task.round,
        status: 'skipped',
        detail: { reason: `secure round already in phase ${task.secagg?.phase} without this device's keys` },
        at: this.#now(),
      });
      return;
    }
    this.#o.db.transaction(() => {
      if (this.#secagg.step(task)) {
        this.#o.memory.mark({
          taskId: task.id,
          round: task.round,
          status: 'submitted',
          detail: { secagg: true },
          at: this.#now(),
        });
      }
    })();
  }

  async #runRound(task: FlTask): Promise<void> {
    const { lib, log, residuals } = this.#o;
    let feedback: { carried: boolean } | undefined;
    const bytes = Buffer.from(task.weights, 'base64');
    const digest = createHash('sha256').update(bytes).digest('hex');
    if (digest !== task.weightsDigest) {
      throw new Error(
        `task ${task.id} round ${task.round}: weights digest ${digest} ≠ ${task.weightsDigest}`,
      );
    }
    const global = lib.decodeUpdate(bytes, task.shapes);
    const model = { modelTopology: task.topology, weights: global };
    const train = this.#o.samples.load('train');
    const holdout = task.evaluate ? this.#o.samples.load('holdout') : undefined;
    const events: AgentEvent[] = [];
    let detail: Record<string, unknown>;
    let status: RoundRecord['status'] = 'submitted';

    if (holdout !== undefined) {
      const r = await lib.evaluate(model, toSamples(holdout));
      const body: FlEval = {
        task: task.id,
        round: task.round,
        examples: r.count,
        loss: r.loss,
        accuracy: r.accuracy,
      };
      events.push({ type: FL_EVAL, lane: 'learning', body });
    }
    if (train === undefined) {
      log.warn({ task: task.id, round: task.round }, 'no train samples: the round is skipped on this device');
      status = 'skipped';
      detail = { reason: 'no train samples' };
    } else {
      const trained = await lib.trainLocal({
        model,
        samples: toSamples(train),
        lr: task.lr,
        epochs: task.epochs,
        batchSize: task.batchSize,
        ...(task.proxMu !== undefined ? { proxMu: task.proxMu } : {}),
        seed: deviceSeed(task, this.#o.deviceId),
      });
      // A fine-tuning task's update carries its trainable layers only (the rest is frozen).
      const delta = sentPart(task, sub(trained.weights, global));
      if (task.secagg !== undefined) {
        const clip = lib.clipL2(delta, task.clipNorm);
        // Secure aggregation: hold the clipped delta, advertise; the evaluation goes now.
        this.#commit(events, () =>
          this.#secagg.start(task, {
            delta: clip.delta,
            examples: trained.examples,
            norm: clip.norm,
            clipped: clip.clipped,
            loss: trained.loss,
            accuracy: trained.accuracy,
          }),
        );
        return;
      }
      const compression = {
        compression: task.compression.kind,
        ...(task.compression.topkFraction !== undefined
          ? { topkFraction: task.compression.topkFraction }
          : {}),
      };
      let encoded: Uint8Array;
      let clip: { norm: number; clipped: boolean };
      if (residuals !== undefined && usesFeedback(task)) {
        // Error feedback: last round's residual joins this delta; this round's is kept.
        const carried = residuals.load(task.id, task.round, delta);
        const packed = lib.compressWithFeedback(delta, carried, { ...compression, clipNorm: task.clipNorm });
        ({ encoded, clip } = packed);
        residuals.save(task.id, task.round, packed.residual);
        feedback = { carried: carried !== undefined };
      } else {
        const clipped = lib.clipL2(delta, task.clipNorm);
        clip = clipped;
        encoded = lib.encodeUpdate(clipped.delta, compression);
      }
      const chunks = lib.chunk(encoded, FL_CHUNK_BYTES);
      for (const c of chunks) {
        const body: FlUpdateChunk = {
          task: task.id,
          round: task.round,
          index: c.index,
          total: c.total,
          digest: c.digest,
          bytes: Buffer.from(c.bytes).toString('base64'),
          examples: trained.examples,
          norm: clip.norm,
          clipped: clip.clipped,
          loss: trained.loss,
          accuracy: Math.min(1, Math.max(0, trained.accuracy)),
        };
        events.push({ type: FL_UPDATE_CHUNK, lane: 'learning', body });
      }
      detail = {
        examples: trained.examples,
        loss: trained.loss,
        accuracy: trained.accuracy,
        norm: clip.norm,
        clipped: clip.clipped,
        bytes: encoded.byteLength,
        chunks: chunks.length,
        ...(feedback !== undefined ? { residualCarried: feedback.carried } : {}),
      };
    }
    // Sync: an update for a round the hub already moved past would only be discarded as late.
    // Async (FedBuff) takes it with its staleness, so it is sent.
    if (task.mode === 'sync' && (this.#task?.id !== task.id || this.#task.round !== task.round)) {
      log.info({ task: task.id, round: task.round }, 'sync task moved on while training; update not sent');
      return;
    }
    // One transaction: the chunks, the evaluation and the round's mark, all or none.
    this.#o.db.transaction(() => {
      for (const e of events) this.#o.enqueue(e);
      this.#o.memory.mark({ taskId: task.id, round: task.round, status, detail, at: this.#now() });
    })();
    if (feedback !== undefined) residuals?.prune(task.id, task.round);
    log.info({ task: task.id, round: task.round, status, ...detail }, 'federated round done on device');
  }
}
