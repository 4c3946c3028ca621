import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { type ModelSource, readModelSource, shardPaths } from '../../inference/index.js';

/**
 * Content-addressed model artifacts under `{dataDir}/models/{sha256}/` (docs/architecture.md "Model
 * artifacts"): written to a staging directory first, then moved into place with one rename,
 * so a crash never leaves a half-written artifact under its hash.
 */
export class ModelFiles {
  readonly #root: string;

  constructor(dataDir: string) {
    this.#root = join(dataDir, 'models');
  }

  /** Stores `source` (already verified) under `sha256`; a no-op when it is already there. */
  async put(sha256: string, source: ModelSource): Promise<void> {
    const final = join(this.#root, sha256);
    if (existsSync(final)) return;
    const staging = join(this.#root, '.staging', `${sha256}.${randomBytes(6).toString('hex')}`);
    await mkdir(staging, { recursive: true });
    try {
      if (source.format === 'onnx') await writeFile(join(staging, 'model.onnx'), source.bytes);
      else {
        await writeFile(join(staging, 'model.json'), source.modelJsonBytes);
        for (const p of shardPaths(source.modelJson)) {
          const file = join(staging, p);
          await mkdir(dirname(file), { recursive: true });
          await writeFile(file, source.shards.get(p) ?? new Uint8Array());
        }
      }
      await mkdir(this.#root, { recursive: true });
      await rename(staging, final);
    } catch (err) {
      await rm(staging, { recursive: true, force: true });
      if (existsSync(final)) return;
      throw err;
    }
  }

  /** Deletes a stored artifact (a no-op when absent). */
  async remove(sha256: string): Promise<void> {
    if (!/^[0-9a-f]{64}$/.test(sha256)) throw new RangeError(`not a sha256: ${sha256}`);
    await rm(join(this.#root, sha256), { recursive: true, force: true });
  }

  /** Reads a stored artifact back. */
  async get(sha256: string, format: ModelSource['format']): Promise<ModelSource> {
    const file = format === 'onnx' ? 'model.onnx' : 'model.json';
    return readModelSource(join(this.#root, sha256, file));
  }
}
