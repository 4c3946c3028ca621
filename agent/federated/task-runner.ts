import { createHash } from 'node:crypto';
import type Database from 'better-sqlite3';
import type { Logger } from 'pino';
import { FL_CHUNK_BYTES, FL_EVAL, type FlEval, type FlTask } from '../../shared/messages/federated.js';
import type { SampleStore } from '../store/sample-store.js';
import type { AgentEvent } from '../types.js';
import type { ResidualStore } from './residual-store.js';
import type { RoundMemory, RoundRecord } from './round-memory.js';
import { deviceSeed, encodeDelta, type FlLibrary, sentPart, sub, toSamples } from './round-steps.js';
import type { RoundWeights } from './round-weights.js';
import { SecAggRunner } from './secagg-runner.js';
import { chunkEvents, type UpdateFigures, uploadEvent } from './update-events.js';
import type { StagedUpload, UpdateUploader, UploadStatus } from './uploader.js';

export type { FlLibrary } from './round-steps.js';

/** Collaborators of the {@link TaskRunner}. */
export interface TaskRunnerOptions {
  deviceId: string;
  db: Database.Database;
  samples: SampleStore;
  memory: RoundMemory;
  /** Error-feedback residuals of compressed updates (none: compression without feedback). */
  residuals?: ResidualStore;
  lib: FlLibrary;
  /**
   * Weights as artifacts (with the hub's HTTP URL and trusted keys): the round's global model
   * downloaded, the update uploaded. Absent: a task with `weightsArtifact` fails on this device.
   */
  artifacts?: { weights: RoundWeights; uploader: UpdateUploader };
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
  /** Updates waiting to be uploaded (artifact rounds), with the bytes the hub holds. */
  uploads: UploadStatus[];
  /** The last upload failure (retried), or null. */
  uploadError: string | null;
}

/**
 * Runs the federated task of the desired state on this device: for a round
 * it has not done, gets the round's global model (the task's artifact downloaded and verified,
 * or the weights it embeds), trains on the stored `train` examples (fl-core's `trainLocal`),
 * takes the delta, clips it to `clipNorm` and compresses it. The update goes as an upload (an
 * artifact round: written to disk, an `fl.update.upload` event, the upload recorded, sent by
 * the {@link UpdateUploader} after the commit) or as chunk events (an embedded round); its
 * events (plus, when asked, an `fl.eval` of the global model on the `holdout` examples) are
 * enqueued in the `learning` lane in ONE transaction together with the round's "submitted"
 * mark. Offline, the outbox holds them until the link returns; after a restart the mark says
 * the round is done and a recorded upload resumes. One round trains at a time; the latest task
 * wins. A failure (e.g. a full outbox, a cut download) is logged and retried after `retryMs`.
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
  /** Aborts a download in progress on close (its progress stays for the next start). */
  readonly #closing = new AbortController();
  readonly #secagg: SecAggRunner;

  constructor(options: TaskRunnerOptions) {
    this.#o = options;
    this.#now = options.now ?? Date.now;
    this.#secagg = new SecAggRunner({
      deviceId: options.deviceId,
      db: options.db,
      enqueue: (events) => {
        for (const e of events) options.enqueue(e);
      },
      log: options.log,
      uploads: options.artifacts?.uploader,
      now: this.#now,
    });
  }

  /**
   * The desired state's task changed (or the agent started with one); undefined: none. The
   * stored state of secure rounds other than this task's round goes (they ended or moved on).
   */
  setTask(task: FlTask | undefined): void {
    this.#task = task;
    this.#secagg.prune(task?.secagg === undefined ? undefined : task);
    if (task !== undefined) this.#kick();
  }

  status(): TaskRunnerStatus {
    const t = this.#task;
    return {
      task: t === undefined ? null : { id: t.id, round: t.round, mode: t.mode },
      busy: this.#running !== undefined,
      lastError: this.#lastError,
      rounds: this.#o.memory.recent(20),
      uploads: this.#o.artifacts?.uploader.status() ?? [],
      uploadError: this.#o.artifacts?.uploader.lastError() ?? null,
    };
  }

  /** Whether this device takes rounds' weights as artifacts (reported to the hub). */
  takesArtifacts(): boolean {
    return this.#o.artifacts !== undefined;
  }

  /** Resumes the uploads a previous run left (call once the outbox is open). */
  resumeUploads(): void {
    this.#o.artifacts?.uploader.removeOrphans();
    this.#o.artifacts?.uploader.kick();
  }

  /** Resolves once no round is training (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.#running) await this.#running;
  }

  /** Stops retries and uploads, and waits for a round in progress. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#closing.abort();
    clearTimeout(this.#retry);
    await this.#o.artifacts?.uploader.close();
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
      // Not trained before the round passed its first phase (e.g. the device came online
      // late, or restarted while training): it has no keys in the round, so it stays out.
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
    // A masked input recorded for upload goes once the transaction holds it.
    this.#o.artifacts?.uploader.kick();
  }

  /** The round's global weights (codec bytes): embedded in the task, or its artifact downloaded. */
  async #globalBytes(task: FlTask): Promise<Uint8Array> {
    const ref = task.weightsArtifact;
    if (ref !== undefined) {
      const weights = this.#o.artifacts?.weights;
      if (weights === undefined) {
        throw new Error(
          `task ${task.id} round ${task.round} sends its weights as an artifact; this agent has no delivery.hubHttpUrl or trusted keys`,
        );
      }
      await weights.prune(ref.sha256);
      return weights.load(task, this.#closing.signal);
    }
    const bytes = Buffer.from(task.weights ?? '', 'base64');
    const digest = createHash('sha256').update(bytes).digest('hex');
    if (digest !== task.weightsDigest) {
      throw new Error(
        `task ${task.id} round ${task.round}: weights digest ${digest} ≠ ${task.weightsDigest}`,
      );
    }
    return bytes;
  }

  async #runRound(task: FlTask): Promise<void> {
    const { lib, log, residuals } = this.#o;
    let feedback: { carried: boolean } | undefined;
    const global = lib.decodeUpdate(await this.#globalBytes(task), task.shapes);
    const model = { modelTopology: task.topology, weights: global };
    const train = this.#o.samples.load('train');
    const holdout = task.evaluate ? this.#o.samples.load('holdout') : undefined;
    const events: AgentEvent[] = [];
    let detail: Record<string, unknown>;
    let status: RoundRecord['status'] = 'submitted';
    /** An artifact round's encoded update and its figures, staged for upload below. */
    let upload: { encoded: Uint8Array; figures: UpdateFigures } | undefined;

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
        if (this.#task?.id !== task.id || this.#task.round !== task.round) {
          log.info({ task: task.id, round: task.round }, 'secure round moved on while training; not joined');
          return;
        }
        // Secure aggregation: keep the clipped delta and keys, advertise; the evaluation goes now.
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
      const { encoded, clip, feedback: carried } = encodeDelta(lib, residuals, task, delta);
      feedback = carried;
      const figures: UpdateFigures = { ...trained, ...clip };
      let sent: Record<string, unknown>;
      if (task.weightsArtifact !== undefined) {
        // Artifact round: the update is uploaded over HTTP; its event carries the reference.
        upload = { encoded, figures };
        sent = { upload: true };
      } else {
        const chunked = chunkEvents(task, lib.chunk(encoded, FL_CHUNK_BYTES), figures);
        events.push(...chunked);
        sent = { chunks: chunked.length };
      }
      detail = {
        examples: trained.examples,
        loss: trained.loss,
        accuracy: trained.accuracy,
        norm: clip.norm,
        clipped: clip.clipped,
        bytes: encoded.byteLength,
        ...sent,
        ...(feedback !== undefined ? { residualCarried: feedback.carried } : {}),
      };
    }
    // Sync: an update for a round the hub already moved past would only be discarded as late.
    // Async (FedBuff) takes it with its staleness, so it is sent.
    if (task.mode === 'sync' && (this.#task?.id !== task.id || this.#task.round !== task.round)) {
      log.info({ task: task.id, round: task.round }, 'sync task moved on while training; update not sent');
      return;
    }
    let staged: StagedUpload | undefined;
    const uploader = this.#o.artifacts?.uploader;
    if (upload !== undefined && uploader !== undefined) {
      // On disk before the transaction; recorded by it (a crash in between leaves an orphan file).
      staged = uploader.stage(task.id, task.round, upload.encoded);
      events.push(uploadEvent(task, staged, upload.figures));
    }
    // One transaction: the update (chunks, or the upload's event and record), the evaluation
    // and the round's mark, all or none.
    this.#o.db.transaction(() => {
      for (const e of events) this.#o.enqueue(e);
      if (staged !== undefined) uploader?.record(staged, this.#now());
      this.#o.memory.mark({ taskId: task.id, round: task.round, status, detail, at: this.#now() });
    })();
    if (staged !== undefined) uploader?.kick();
    await this.#o.artifacts?.weights.prune();
    if (feedback !== undefined) residuals?.prune(task.id, task.round);
    log.info({ task: task.id, round: task.round, status, ...detail }, 'federated round done on device');
  }
}
