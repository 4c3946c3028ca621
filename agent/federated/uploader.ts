import { createHash } from 'node:crypto';
import { open, readFile } from 'node:fs/promises';
import type Database from 'better-sqlite3';
import type { Logger } from 'pino';
import type { ErrorBody } from '../../shared/index.js';
import { FL_UPLOAD_PART_BYTES, flUploadPath } from '../../shared/messages/federated.js';
import { type StagedUpload, UploadQueue } from './upload-queue.js';

export { FL_UPLOADS_DIR, type StagedUpload } from './upload-queue.js';

/** What {@link UpdateUploader} needs. */
export interface UploaderOptions {
  db: Database.Database;
  dataDir: string;
  hubHttpUrl: string;
  /** `Basic …` of the device. */
  authorization: string;
  fetch?: ((url: string, init: RequestInit) => Promise<Response>) | undefined;
  /** Bandwidth cap, bytes/s (`delivery.bandwidthBytesPerS`); 0 = none. */
  bandwidthBps: number;
  /** Retry backoff after a failed attempt (full jitter, doubling), ms. */
  retryMinMs: number;
  retryMaxMs: number;
  /** A request that has not finished after this long is abandoned (and retried), ms. */
  requestTimeoutMs?: number;
  log: Logger;
}

/** What `GET /v1/federated` shows of the uploads. */
export interface UploadStatus {
  taskId: string;
  round: number;
  size: number;
  /** Bytes the hub holds, as last heard (or sent in this process). */
  sent: number;
}

/** Why an upload stops for good: the hub will not take it (or the bytes are gone). */
class Abandon extends Error {}
/** The hub holds another offset than the one sent: ask again and resume there. */
class Resume extends Error {}
/** The hub found that the whole hashed otherwise and dropped every part. */
class HashedWrong extends Error {}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        resolve();
      },
      { once: true },
    );
  });

/**
 * Uploads the device's federated updates to the hub in parts
 * (`PATCH /v1/federated/uploads/{task}/{round}`, `FL_UPLOAD_PART_BYTES` each): the update is
 * written to `{dataDir}/fl-uploads/` before its round's transaction ({@link stage}), and the
 * transaction records it ({@link record}) with the `fl.update.upload` event and the round's
 * mark, so a recorded upload always has its event in the outbox and its bytes on disk. Each
 * attempt first asks the hub where the upload stands (`HEAD`) and sends the rest, paced to the
 * bandwidth cap; a cut link or a restarted agent resumes at the last part the hub holds (a part
 * sent twice is stored once). The record goes once the hub holds every byte, or when it
 * refuses the upload for good (the round closed, the device is not selected). Transient
 * failures are retried with backoff.
 */
export class UpdateUploader {
  readonly #o: UploaderOptions;
  readonly #queue: UploadQueue;
  readonly #progress = new Map<string, number>();
  readonly #closing = new AbortController();
  #running: Promise<void> | undefined;
  #again = false;
  #retry: NodeJS.Timeout | undefined;
  #failures = 0;
  #lastError: string | null = null;

  constructor(options: UploaderOptions) {
    this.#o = options;
    this.#queue = new UploadQueue(options.db, options.dataDir);
  }

  /** Writes `bytes` to disk (fsynced, renamed into place): call before the round's transaction. */
  stage(taskId: string, round: number, bytes: Uint8Array): StagedUpload {
    return this.#queue.stage(taskId, round, bytes);
  }

  /** Records a staged upload; call inside the round's transaction. */
  record(staged: StagedUpload, at: number): void {
    this.#queue.record(staged, at);
  }

  /** Files of unrecorded uploads (a crash between staging and the transaction) go. */
  removeOrphans(): void {
    this.#queue.removeOrphans();
  }

  /** Uploads waiting, oldest first, with the bytes the hub holds as last heard. */
  status(): UploadStatus[] {
    return this.#queue.pending().map((r) => ({
      taskId: r.taskId,
      round: r.round,
      size: r.size,
      sent: this.#progress.get(`${r.taskId}/${r.round}`) ?? 0,
    }));
  }

  /** The last failure of an attempt, or null. */
  lastError(): string | null {
    return this.#lastError;
  }

  /** Starts (or, when running, repeats) a pass over the recorded uploads. */
  kick(): void {
    if (this.#closing.signal.aborted) return;
    clearTimeout(this.#retry);
    if (this.#running) {
      this.#again = true;
      return;
    }
    this.#running = this.#loop().finally(() => {
      this.#running = undefined;
    });
  }

  /** Resolves once no pass is running. */
  async idle(): Promise<void> {
    while (this.#running) await this.#running;
  }

  /** Stops: the attempt in flight is abandoned (the hub keeps the parts it has). */
  async close(): Promise<void> {
    this.#closing.abort();
    clearTimeout(this.#retry);
    await this.idle();
  }

  #forget(u: StagedUpload): void {
    this.#queue.forget(u);
    this.#progress.delete(`${u.taskId}/${u.round}`);
  }

  async #loop(): Promise<void> {
    do {
      this.#again = false;
      for (const u of this.#queue.pending()) {
        if (this.#closing.signal.aborted) return;
        try {
          await this.#upload(u);
          this.#forget(u);
          this.#failures = 0;
          this.#lastError = null;
          this.#o.log.info({ task: u.taskId, round: u.round, size: u.size }, 'federated update uploaded');
        } catch (err) {
          if (this.#closing.signal.aborted) return;
          if (err instanceof Abandon) {
            this.#o.log.warn(
              { task: u.taskId, round: u.round, why: err.message },
              'federated upload abandoned',
            );
            this.#forget(u);
            continue;
          }
          this.#lastError = (err as Error).message;
          this.#failures += 1;
          const cap = Math.min(
            this.#o.retryMaxMs,
            this.#o.retryMinMs * 2 ** Math.min(this.#failures - 1, 16),
          );
          const wait = Math.max(this.#o.retryMinMs, Math.round(Math.random() * cap));
          this.#o.log.warn(
            { task: u.taskId, round: u.round, err: this.#lastError, retryInMs: wait },
            'federated upload failed; will resume',
          );
          this.#retry = setTimeout(() => this.kick(), wait);
          this.#retry.unref();
          return;
        }
      }
    } while (this.#again && !this.#closing.signal.aborted);
  }

  async #request(method: 'HEAD' | 'PATCH', u: StagedUpload, init: RequestInit = {}): Promise<Response> {
    const url = new URL(flUploadPath(u.taskId, u.round), this.#o.hubHttpUrl).toString();
    const timeout = AbortSignal.timeout(this.#o.requestTimeoutMs ?? 120_000);
    const signal = AbortSignal.any([this.#closing.signal, timeout]);
    const headers = { authorization: this.#o.authorization, ...(init.headers as Record<string, string>) };
    try {
      return await (this.#o.fetch ?? fetch)(url, { ...init, method, headers, signal });
    } catch (err) {
      const cause = (err as { cause?: Error }).cause?.message ?? (err as Error).message;
      throw new Error(`${method} ${url}: ${cause}`);
    }
  }

  /** One attempt (a few when the hub says to resume elsewhere). */
  async #upload(u: StagedUpload): Promise<void> {
    for (let i = 0; ; i++) {
      try {
        return await this.#attempt(u);
      } catch (err) {
        if (err instanceof HashedWrong) {
          // Our file changed under us: nothing to resend. Else (a fault on the way) start over.
          const file = await readFile(this.#queue.path(u)).catch(() => Buffer.alloc(0));
          if (createHash('sha256').update(file).digest('hex') !== u.sha256) throw new Abandon(err.message);
          throw new Error(err.message);
        }
        if (!(err instanceof Resume) || i >= 3) throw err;
      }
    }
  }

  /** Where the hub stands, then every part from there. */
  async #attempt(u: StagedUpload): Promise<void> {
    const key = `${u.taskId}/${u.round}`;
    const head = await this.#request('HEAD', u);
    await this.#check(head, 'HEAD');
    let offset =
      head.headers.get('upload-sha256') === u.sha256 ? Number(head.headers.get('upload-offset') ?? 0) : 0;
    if (head.headers.get('upload-complete') === 'true' && head.headers.get('upload-sha256') === u.sha256)
      return;
    this.#progress.set(key, offset);
    let handle: Awaited<ReturnType<typeof open>>;
    try {
      handle = await open(this.#queue.path(u), 'r');
    } catch (err) {
      throw new Abandon(`the update's file is gone: ${(err as Error).message}`);
    }
    try {
      const started = Date.now();
      let sent = 0;
      while (offset < u.size) {
        const length = Math.min(FL_UPLOAD_PART_BYTES, u.size - offset);
        const part = Buffer.alloc(length);
        const { bytesRead } = await handle.read(part, 0, length, offset);
        if (bytesRead !== length) throw new Abandon(`the update's file is shorter than ${u.size} bytes`);
        const res = await this.#request('PATCH', u, {
          headers: {
            'content-type': 'application/offset+octet-stream',
            'upload-offset': String(offset),
            'upload-length': String(u.size),
            'upload-sha256': u.sha256,
          },
          body: this.#paced(part, started, sent),
          duplex: 'half',
        } as RequestInit);
        await this.#check(res, 'PATCH');
        sent += length;
        offset = Number(res.headers.get('upload-offset') ?? offset + length);
        this.#progress.set(key, offset);
        if (res.headers.get('upload-complete') === 'true') return;
      }
    } finally {
      await handle.close();
    }
  }

  /** The part as a stream paced to the bandwidth cap (over the whole attempt). */
  #paced(part: Buffer, started: number, before: number): ReadableStream<Uint8Array> | Buffer {
    const cap = this.#o.bandwidthBps;
    if (cap <= 0) return part;
    const slice = 64 * 1024;
    let at = 0;
    const signal = this.#closing.signal;
    return new ReadableStream<Uint8Array>({
      async pull(controller) {
        if (at >= part.length) {
          controller.close();
          return;
        }
        const ahead = ((before + at) / cap) * 1000 - (Date.now() - started);
        if (ahead > 1) await sleep(ahead, signal);
        const end = Math.min(part.length, at + slice);
        controller.enqueue(part.subarray(at, end));
        at = end;
      },
    });
  }

  /**
   * Throws unless `res` is a success: {@link Abandon} when the hub refuses for good (403 not
   * selected, 404 no such round, 409 `FL_UPLOAD_REFUSED`), {@link Resume} for 409
   * `FL_UPLOAD_OFFSET`, an Error (retried with backoff) otherwise.
   */
  async #check(res: Response, what: string): Promise<void> {
    if (res.ok) {
      await res.body?.cancel();
      return;
    }
    const text = await res.text().catch(() => '');
    let code = '';
    try {
      code = (JSON.parse(text) as ErrorBody).error.code;
    } catch {
      // not an error body (a HEAD answer has none)
    }
    const why = `${what} answered ${res.status} ${code}: ${text.slice(0, 300)}`;
    if (code === 'FL_UPLOAD_OFFSET') throw new Resume(why);
    if (code === 'FL_BAD_UPDATE') throw new HashedWrong(why);
    if (res.status === 403 || res.status === 404 || res.status === 409) throw new Abandon(why);
    throw new Error(why);
  }
}
