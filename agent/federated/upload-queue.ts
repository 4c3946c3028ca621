import { createHash } from 'node:crypto';
import {
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  renameSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import type Database from 'better-sqlite3';

/** Directory under the agent's data dir holding updates waiting to be uploaded. */
export const FL_UPLOADS_DIR = 'fl-uploads';

/** An update written to disk, to be recorded in its round's transaction. */
export interface StagedUpload {
  taskId: string;
  round: number;
  sha256: string;
  size: number;
  /** File name under `{dataDir}/fl-uploads/`. */
  file: string;
}

/**
 * The updates waiting to be uploaded: their bytes in `{dataDir}/fl-uploads/` (one file per
 * task and round), their records in the agent store (`fl_uploads`, migration 8). A file is
 * written before its round's transaction and recorded by it, so a record always has its file;
 * a file without a record (a crash in between) is an orphan, removed at start.
 */
export class UploadQueue {
  readonly #db: Database.Database;
  readonly #dir: string;

  constructor(db: Database.Database, dataDir: string) {
    this.#db = db;
    this.#dir = join(dataDir, FL_UPLOADS_DIR);
  }

  /** Writes `bytes` to disk (fsynced, renamed into place): call before the round's transaction. */
  stage(taskId: string, round: number, bytes: Uint8Array): StagedUpload {
    mkdirSync(this.#dir, { recursive: true });
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    const file = `${createHash('sha256').update(taskId).digest('hex').slice(0, 16)}-${round}.upd`;
    const tmp = join(this.#dir, `${file}.tmp`);
    const fd = openSync(tmp, 'w');
    try {
      writeSync(fd, bytes);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, join(this.#dir, file));
    return { taskId, round, sha256, size: bytes.byteLength, file };
  }

  /** Records a staged upload; call inside the round's transaction. */
  record(staged: StagedUpload, at: number): void {
    this.#db
      .prepare(
        `INSERT OR REPLACE INTO fl_uploads (task_id, round, sha256, size, file, created_at)
         VALUES (?, ?, ?, ?, ?, ?)`,
      )
      .run(staged.taskId, staged.round, staged.sha256, staged.size, staged.file, Math.trunc(at));
  }

  /** Recorded uploads, oldest first. */
  pending(): StagedUpload[] {
    const rows = this.#db
      .prepare(
        'SELECT task_id, round, sha256, size, file FROM fl_uploads ORDER BY created_at, task_id, round',
      )
      .all() as Array<{ task_id: string; round: number; sha256: string; size: number; file: string }>;
    return rows.map((r) => ({
      taskId: r.task_id,
      round: r.round,
      sha256: r.sha256,
      size: r.size,
      file: r.file,
    }));
  }

  /** Where a staged upload's bytes are. */
  path(u: StagedUpload): string {
    return join(this.#dir, u.file);
  }

  /** Removes an upload's record and file (uploaded, or refused for good). */
  forget(u: StagedUpload): void {
    this.#db.prepare('DELETE FROM fl_uploads WHERE task_id = ? AND round = ?').run(u.taskId, u.round);
    rmSync(join(this.#dir, u.file), { force: true });
  }

  /** Files of unrecorded uploads (a crash between staging and the transaction) go. */
  removeOrphans(): void {
    const known = new Set(this.pending().map((r) => r.file));
    let names: string[];
    try {
      names = readdirSync(this.#dir);
    } catch {
      return;
    }
    for (const name of names) if (!known.has(name)) rmSync(join(this.#dir, name), { force: true });
  }
}
