import { mkdir, open, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { OutpostError } from '../../shared/index.js';
import type { DeliveryStore } from '../store/delivery-store.js';

/** One artifact download. */
export interface DownloadRequest {
  /** `{hub}/v1/artifacts/{sha256}`. */
  url: string;
  /** `Basic …` of the device. */
  authorization: string;
  name: string;
  version: string;
  sha256: string;
  /** The manifest's size, bytes. */
  size: number;
  /** Staging file; its durable prefix is resumed. */
  file: string;
  store: DeliveryStore;
  /** Bandwidth cap, bytes/s; 0 = none. */
  bandwidthBps: number;
  /** Progress is made durable (fsync + store) at least every this many bytes. */
  checkpointBytes: number;
  /** Called with bytes on disk after each chunk. */
  onProgress(bytes: number): void;
  signal?: AbortSignal | undefined;
  now: () => number;
  /** `fetch` to the hub (trusting its CA, with the client certificate); the global one when absent. */
  fetch?: (url: string, init: RequestInit) => Promise<Response>;
}

/** What a finished download did: where it resumed from and the bytes it fetched now. */
export interface DownloadResult {
  resumedFrom: number;
  fetched: number;
}

const failed = (message: string) => new OutpostError('AGENT_DOWNLOAD_FAILED', message);
const mismatch = (message: string) => new OutpostError('AGENT_ARTIFACT_MISMATCH', message);

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        reject(signal.reason);
      },
      { once: true },
    );
  });
}

async function fileSize(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw err;
  }
}

/** The total size a response announces (`Content-Range: bytes a-b/TOTAL` or `Content-Length`). */
function announcedTotal(res: Response, offset: number): number | undefined {
  const range = res.headers.get('content-range');
  const total = range === null ? undefined : /\/(\d+)\s*$/.exec(range)?.[1];
  if (total !== undefined) return Number(total);
  const length = res.headers.get('content-length');
  return length === null ? undefined : Number(length) + offset;
}

/**
 * Downloads an artifact to its staging file, resuming: the durable prefix
 * recorded in the store (never more than the file holds) is kept and the rest asked for with
 * `Range: bytes=N-` and `If-Range: "sha256"`; a 200 restarts from zero, a 416 at the end means
 * done. Progress is fsynced and recorded every `checkpointBytes`, so a cut link or a killed
 * agent resumes there. A hub announcing another size than the manifest's is a mismatch (not
 * retried); transport errors and 5xx are `AGENT_DOWNLOAD_FAILED` (retryable). The bytes are
 * verified by the caller.
 */
export async function downloadArtifact(req: DownloadRequest): Promise<DownloadResult> {
  await mkdir(dirname(req.file), { recursive: true });
  const recorded = req.store.download(req.sha256)?.bytes ?? 0;
  let offset = Math.min(recorded, await fileSize(req.file), req.size);
  const handle = await open(req.file, 'a+');
  try {
    await handle.truncate(offset);
    const resumedFrom = offset;
    if (offset === req.size && req.size > 0) return { resumedFrom, fetched: 0 };
    const headers: Record<string, string> = { authorization: req.authorization };
    if (offset > 0) {
      headers.range = `bytes=${offset}-`;
      headers['if-range'] = `"${req.sha256}"`;
    }
    let res: Response;
    try {
      res = await (req.fetch ?? fetch)(req.url, { headers, ...(req.signal ? { signal: req.signal } : {}) });
    } catch (err) {
      if (req.signal?.aborted) throw err;
      throw failed(
        `cannot reach ${req.url}: ${(err as { cause?: Error }).cause?.message ?? (err as Error).message}`,
      );
    }
    if (res.status === 416 && offset > 0) {
      await res.body?.cancel();
      // The hub has no bytes past our offset: either we have them all, or the artifact is shorter.
      const total = Number(/\/(\d+)/.exec(res.headers.get('content-range') ?? '')?.[1] ?? Number.NaN);
      if (total !== req.size)
        throw mismatch(`hub has ${total} bytes of ${req.sha256}, the manifest says ${req.size}`);
      return { resumedFrom, fetched: 0 };
    }
    if (res.status === 200 && offset > 0) {
      offset = 0;
      await handle.truncate(0);
    } else if (res.status !== 206 && res.status !== 200) {
      const text = (await res.text()).slice(0, 300);
      throw failed(`GET ${req.url} answered ${res.status}: ${text}`);
    }
    const total = announcedTotal(res, offset);
    if (total !== undefined && total !== req.size) {
      await res.body?.cancel();
      throw mismatch(`hub serves ${total} bytes for ${req.sha256}, the manifest says ${req.size}`);
    }
    const started = req.now();
    let fetched = 0;
    let durable = offset;
    const checkpoint = async () => {
      if (offset === durable) return;
      await handle.sync();
      durable = offset;
      req.store.saveProgress(
        { sha256: req.sha256, name: req.name, version: req.version, size: req.size, bytes: offset },
        req.now(),
      );
    };
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        if (offset + chunk.byteLength > req.size) {
          throw mismatch(`hub sent more than the manifest's ${req.size} bytes of ${req.sha256}`);
        }
        await handle.write(chunk, 0, chunk.byteLength, offset);
        offset += chunk.byteLength;
        fetched += chunk.byteLength;
        if (offset - durable >= req.checkpointBytes) await checkpoint();
        req.onProgress(offset);
        if (req.bandwidthBps > 0) {
          const ahead = (fetched / req.bandwidthBps) * 1000 - (req.now() - started);
          if (ahead > 1) await sleep(ahead, req.signal);
        }
      }
    } catch (err) {
      if (err instanceof OutpostError || req.signal?.aborted) throw err;
      throw failed(
        `download of ${req.sha256} cut at ${offset} of ${req.size} bytes: ${(err as Error).message}`,
      );
    } finally {
      await checkpoint().catch(() => undefined);
    }
    if (offset !== req.size)
      throw failed(`download of ${req.sha256} ended at ${offset} of ${req.size} bytes`);
    return { resumedFrom, fetched };
  } finally {
    await handle.close();
  }
}
