import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DecodeUpdateFn, EncodeUpdateFn, ModelWeights } from '../../federated/types.js';
import type { RoundMemory } from './round-memory.js';

/** Directory under the agent's data dir holding the error-feedback residuals. */
export const RESIDUAL_DIR = 'fl-residuals';

const FILE = /^([0-9a-f]{16})-(\d+)\.opfu$/;

/**
 * The error-feedback residual of compressed updates, kept on the device across rounds and
 * restarts: one file per (task, round) in `{dataDir}/fl-residuals/`, named by a hash of the
 * task id and the round that produced it, in the update wire format (uncompressed).
 *
 * A residual is written before the round's transaction (update chunks + the round's
 * "submitted" mark) and only counts once that mark exists: a crash in between leaves a file
 * for an unmarked round, which `load` ignores (the round is trained again from the previous
 * residual), so a residual is never applied twice nor lost.
 */
export class ResidualStore {
  readonly #dir: string;

  constructor(
    dataDir: string,
    readonly memory: RoundMemory,
    readonly codec: { encode: EncodeUpdateFn; decode: DecodeUpdateFn },
  ) {
    this.#dir = join(dataDir, RESIDUAL_DIR);
  }

  /**
   * The residual to add to round `round`'s delta: the newest one left by an earlier round of
   * `taskId` that was submitted; undefined when none (or when it no longer fits `shapes`).
   */
  load(
    taskId: string,
    round: number,
    shapes: Array<{ name: string; shape: number[] }>,
  ): ModelWeights | undefined {
    const key = keyOf(taskId);
    let best: { round: number; file: string } | undefined;
    for (const { file, key: k, round: r } of this.#files()) {
      if (k !== key || r >= round || (best !== undefined && r <= best.round)) continue;
      if (this.memory.get(taskId, r)?.status !== 'submitted') continue;
      best = { round: r, file };
    }
    if (best === undefined) return undefined;
    try {
      return this.codec.decode(readFileSync(join(this.#dir, best.file)), shapes);
    } catch {
      return undefined; // the model changed shape (or the file is damaged): start afresh
    }
  }

  /** Writes round `round`'s residual (atomically: a temporary file renamed into place). */
  save(taskId: string, round: number, residual: ModelWeights): void {
    mkdirSync(this.#dir, { recursive: true });
    const name = `${keyOf(taskId)}-${round}.opfu`;
    const tmp = join(this.#dir, `${name}.tmp`);
    writeFileSync(tmp, this.codec.encode(residual, { compression: 'none' }));
    renameSync(tmp, join(this.#dir, name));
  }

  /** Removes every residual except round `round`'s of `taskId` (after that round committed). */
  prune(taskId: string, round: number): void {
    const keep = `${keyOf(taskId)}-${round}.opfu`;
    for (const { file } of this.#files()) if (file !== keep) rmSync(join(this.#dir, file), { force: true });
  }

  #files(): Array<{ file: string; key: string; round: number }> {
    let names: string[];
    try {
      names = readdirSync(this.#dir);
    } catch {
      return [];
    }
    return names.flatMap((file) => {
      const m = FILE.exec(file);
      return m ? [{ file, key: m[1] as string, round: Number(m[2]) }] : [];
    });
  }
}

function keyOf(taskId: string): string {
  return createHash('sha256').update(taskId).digest('hex').slice(0, 16);
}
