import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, type Stats } from 'node:fs';
import { mkdir, open, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { OutpostError } from '../../shared/index.js';

/** Directory under the data dir holding artifacts by SHA-256. */
export const ARTIFACTS_DIR = 'artifacts';

/** A stored artifact. */
export interface StoredArtifact {
  sha256: string;
  /** Bytes. */
  size: number;
}

/**
 * Content-addressed artifacts (docs/architecture.md "Model artifacts"): `{dataDir}/artifacts/{sha256}`,
 * each stored once. Writes stream to a temp file while hashing, `fsync` it, then rename it
 * into place, so no reader ever sees a partial artifact under its hash.
 */
export class ArtifactStore {
  readonly #root: string;
  readonly #tmp: string;

  constructor(dataDir: string) {
    this.#root = join(dataDir, ARTIFACTS_DIR);
    this.#tmp = join(this.#root, '.tmp');
  }

  /** Path of an artifact (whether or not it exists). */
  pathOf(sha256: string): string {
    if (!/^[0-9a-f]{64}$/.test(sha256)) throw new OutpostError('HUB_BAD_REQUEST', `not a sha256: ${sha256}`);
    return join(this.#root, sha256);
  }

  /** Size and mtime of a stored artifact, or undefined. */
  async stat(sha256: string): Promise<Stats | undefined> {
    try {
      return await stat(this.pathOf(sha256));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  /**
   * Streams `body` into the store. Throws `PROTO_PAYLOAD_TOO_LARGE` past `maxBytes` (the
   * upload is cut there) and `HUB_ARTIFACT_MISMATCH` when `expectedSha256` is given and the
   * bytes hash differently; nothing is stored then.
   */
  async put(body: Readable, options: { maxBytes: number; expectedSha256?: string }): Promise<StoredArtifact> {
    await mkdir(this.#tmp, { recursive: true });
    const tmp = join(this.#tmp, `${Date.now()}-${randomBytes(6).toString('hex')}`);
    const hash = createHash('sha256');
    let size = 0;
    try {
      await pipeline(
        body,
        async function* (source: AsyncIterable<Buffer>) {
          for await (const chunk of source) {
            size += chunk.length;
            if (size > options.maxBytes) {
              throw new OutpostError(
                'PROTO_PAYLOAD_TOO_LARGE',
                `artifact exceeds the registry limit of ${options.maxBytes} bytes (registry.maxArtifactBytes)`,
              );
            }
            hash.update(chunk);
            yield chunk;
          }
        },
        createWriteStream(tmp, { flags: 'wx', mode: 0o644 }),
      );
      const sha256 = hash.digest('hex');
      if (options.expectedSha256 !== undefined && options.expectedSha256 !== sha256) {
        throw new OutpostError(
          'HUB_ARTIFACT_MISMATCH',
          `uploaded bytes hash to ${sha256}, not the declared ${options.expectedSha256}`,
        );
      }
      if (size === 0) throw new OutpostError('HUB_BAD_REQUEST', 'the uploaded artifact is empty');
      const handle = await open(tmp, 'r');
      try {
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(tmp, this.pathOf(sha256));
      await syncDir(this.#root);
      return { sha256, size };
    } finally {
      await rm(tmp, { force: true });
    }
  }

  /** Stores bytes held in memory (the registry's own callers, e.g. the federated loop). */
  async putBytes(bytes: Uint8Array, maxBytes: number): Promise<StoredArtifact> {
    const { Readable } = await import('node:stream');
    return this.put(Readable.from([Buffer.from(bytes)]), { maxBytes });
  }

  /** A read stream over `[start, end]` (inclusive) of an artifact. */
  read(sha256: string, range?: { start: number; end: number }): Readable {
    return createReadStream(this.pathOf(sha256), range);
  }

  /** Removes an artifact; a no-op when absent. */
  async delete(sha256: string): Promise<void> {
    await rm(this.pathOf(sha256), { force: true });
  }
}

async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } catch {
    // Some filesystems refuse fsync on a directory; the rename itself is still atomic.
  } finally {
    await handle.close();
  }
}
