import type Database from 'better-sqlite3';

/** A download in progress: `bytes` of `size` are durably in the staging file. */
export interface DownloadRecord {
  sha256: string;
  name: string;
  version: string;
  size: number;
  bytes: number;
  updatedAt: number;
}

/** The last refusal of a model's desired version (the reason reaches the hub). */
export interface Refusal {
  version: string;
  code: string;
  reason: string;
  at: number;
}

/**
 * Persistence of model delivery (migration 6): download progress, so a cut or a
 * restart resumes where the staging file is known to be durable, and the last refusal per
 * model, reported until a later version is activated.
 */
export class DeliveryStore {
  readonly #db: Database.Database;

  constructor(db: Database.Database) {
    this.#db = db;
  }

  /** The recorded progress of an artifact's download, if any. */
  download(sha256: string): DownloadRecord | undefined {
    const row = this.#db
      .prepare(
        'SELECT sha256, name, version, size, bytes, updated_at FROM delivery_downloads WHERE sha256 = ?',
      )
      .get(sha256) as
      | { sha256: string; name: string; version: string; size: number; bytes: number; updated_at: number }
      | undefined;
    if (row === undefined) return undefined;
    const { updated_at, ...rest } = row;
    return { ...rest, updatedAt: updated_at };
  }

  /** Records that `bytes` of the artifact are durably staged (call after an fsync). */
  saveProgress(record: Omit<DownloadRecord, 'updatedAt'>, at: number): void {
    this.#db
      .prepare(
        `INSERT INTO delivery_downloads (sha256, name, version, size, bytes, updated_at) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (sha256) DO UPDATE SET name = excluded.name, version = excluded.version,
           size = excluded.size, bytes = excluded.bytes, updated_at = excluded.updated_at`,
      )
      .run(record.sha256, record.name, record.version, record.size, record.bytes, Math.trunc(at));
  }

  /** Forgets a finished or abandoned download. */
  dropDownload(sha256: string): void {
    this.#db.prepare('DELETE FROM delivery_downloads WHERE sha256 = ?').run(sha256);
  }

  /** Every model's last refusal. */
  refusals(): Map<string, Refusal> {
    const rows = this.#db
      .prepare('SELECT name, refused FROM delivery_models WHERE refused IS NOT NULL')
      .all() as Array<{
      name: string;
      refused: string;
    }>;
    return new Map(rows.map((r) => [r.name, JSON.parse(r.refused) as Refusal]));
  }

  /** Stores (or with `undefined`, clears) a model's last refusal. */
  setRefusal(name: string, refusal: Refusal | undefined, at: number): void {
    this.#db
      .prepare(
        `INSERT INTO delivery_models (name, refused, updated_at) VALUES (?, ?, ?)
         ON CONFLICT (name) DO UPDATE SET refused = excluded.refused, updated_at = excluded.updated_at`,
      )
      .run(name, refusal === undefined ? null : JSON.stringify(refusal), Math.trunc(at));
  }
}
