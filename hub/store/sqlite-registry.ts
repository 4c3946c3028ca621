import type { Database, Statement } from 'better-sqlite3';
import {
  type DesiredState,
  type DeviceId,
  type Manifest,
  OutpostError,
  PROTOCOL_VERSION,
  SignedManifestSchema,
} from '../../shared/index.js';
import type {
  DesiredBody,
  DesiredMutation,
  ModelVariantRecord,
  ModelVersionRecord,
} from './registry-types.js';

interface VersionRow {
  name: string;
  version: string;
  created_at: number;
  lineage: string | null;
}
interface VariantRow {
  name: string;
  version: string;
  precision: string;
  format: string;
  sha256: string;
  size: number;
  signed: string;
}

const PRECISION_ORDER = ['fp32', 'fp16', 'int8'];

/** Splits a stored desired document into its envelope and its sections. */
export function desiredBodyOf(doc: DesiredState): DesiredBody {
  const { v: _v, rev: _rev, at: _at, ...body } = doc;
  return body;
}

/**
 * The SQLite side of {@link RegistryStore}: desired-state updates in one
 * transaction over many devices, and the model registry tables (migration 4).
 */
export class SqliteRegistry {
  readonly #db: Database;
  readonly #stmt: {
    deviceExists: Statement<[string], { id: string }>;
    getDesired: Statement<[string], { doc: string }>;
    putDesired: Statement<[string, number, string]>;
    insertVersion: Statement<[string, string, number, string | null]>;
    getVersion: Statement<[string, string], VersionRow>;
    listVersions: Statement<[], VersionRow>;
    listVersionsOf: Statement<[string], VersionRow>;
    variantsOf: Statement<[string, string], VariantRow>;
    insertVariant: Statement<[string, string, string, string, string, number, string]>;
    deleteVersion: Statement<[string, string]>;
    shaInUse: Statement<[string], { n: number }>;
  };
  readonly #updateTx: (
    ids: readonly DeviceId[],
    mutate: DesiredMutation,
    at: number,
  ) => Map<string, DesiredState>;
  readonly #putVariantTx: (
    name: string,
    version: string,
    lineage: Manifest['lineage'],
    variant: ModelVariantRecord,
    at: number,
  ) => void;

  constructor(db: Database) {
    this.#db = db;
    this.#stmt = {
      deviceExists: db.prepare('SELECT id FROM devices WHERE id = ?'),
      getDesired: db.prepare('SELECT doc FROM desired WHERE device_id = ?'),
      putDesired: db.prepare(
        `INSERT INTO desired (device_id, rev, doc) VALUES (?, ?, ?)
         ON CONFLICT (device_id) DO UPDATE SET rev = excluded.rev, doc = excluded.doc`,
      ),
      insertVersion: db.prepare(
        `INSERT INTO model_versions (name, version, created_at, lineage) VALUES (?, ?, ?, ?)
         ON CONFLICT (name, version) DO NOTHING`,
      ),
      getVersion: db.prepare('SELECT * FROM model_versions WHERE name = ? AND version = ?'),
      listVersions: db.prepare('SELECT * FROM model_versions ORDER BY name, created_at, version'),
      listVersionsOf: db.prepare('SELECT * FROM model_versions WHERE name = ? ORDER BY created_at, version'),
      variantsOf: db.prepare('SELECT * FROM model_variants WHERE name = ? AND version = ?'),
      insertVariant: db.prepare(
        `INSERT INTO model_variants (name, version, precision, format, sha256, size, signed)
         VALUES (?, ?, ?, ?, ?, ?, ?)`,
      ),
      deleteVersion: db.prepare('DELETE FROM model_versions WHERE name = ? AND version = ?'),
      shaInUse: db.prepare('SELECT COUNT(*) AS n FROM model_variants WHERE sha256 = ?'),
    };
    this.#updateTx = db.transaction((ids: readonly DeviceId[], mutate: DesiredMutation, at: number) => {
      const out = new Map<string, DesiredState>();
      for (const id of ids) {
        if (this.#stmt.deviceExists.get(id) === undefined) {
          throw new OutpostError('HUB_DEVICE_NOT_FOUND', `no device ${id}`);
        }
        const row = this.#stmt.getDesired.get(id);
        const previous = row === undefined ? undefined : (JSON.parse(row.doc) as DesiredState);
        const body = mutate(previous === undefined ? undefined : desiredBodyOf(previous), id);
        if (body === null) continue;
        const rev = (previous?.rev ?? 0) + 1;
        const doc: DesiredState = { v: PROTOCOL_VERSION, rev, at, ...body };
        this.#stmt.putDesired.run(id, rev, JSON.stringify(doc));
        out.set(id, doc);
      }
      return out;
    });
    this.#putVariantTx = db.transaction(
      (name: string, version: string, lineage: Manifest['lineage'], v: ModelVariantRecord, at: number) => {
        this.#stmt.insertVersion.run(
          name,
          version,
          at,
          lineage === undefined ? null : JSON.stringify(lineage),
        );
        try {
          this.#stmt.insertVariant.run(
            name,
            version,
            v.precision,
            v.format,
            v.sha256,
            v.size,
            JSON.stringify(v.signed),
          );
        } catch (err) {
          if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_PRIMARYKEY') {
            throw new OutpostError(
              'HUB_MODEL_EXISTS',
              `${name}@${version} already has a ${v.precision} variant; push another version or variant`,
            );
          }
          throw err;
        }
      },
    );
  }

  updateDesired(ids: readonly DeviceId[], mutate: DesiredMutation, atMs: number): Map<string, DesiredState> {
    return this.#updateTx(ids, mutate, atMs);
  }

  putModelVariant(
    name: string,
    version: string,
    lineage: Manifest['lineage'],
    variant: ModelVariantRecord,
    atMs: number,
  ): ModelVersionRecord {
    this.#putVariantTx(name, version, lineage, variant, atMs);
    return this.getModelVersion(name, version) as ModelVersionRecord;
  }

  getModelVersion(name: string, version: string): ModelVersionRecord | undefined {
    const row = this.#stmt.getVersion.get(name, version);
    return row === undefined ? undefined : this.#record(row);
  }

  listModelVersions(name?: string): ModelVersionRecord[] {
    const rows = name === undefined ? this.#stmt.listVersions.all() : this.#stmt.listVersionsOf.all(name);
    return rows.map((row) => this.#record(row));
  }

  deleteModelVersion(name: string, version: string): boolean {
    return this.#stmt.deleteVersion.run(name, version).changes > 0;
  }

  artifactInUse(sha256: string): boolean {
    return (this.#stmt.shaInUse.get(sha256)?.n ?? 0) > 0;
  }

  #record(row: VersionRow): ModelVersionRecord {
    const variants = this.#stmt.variantsOf
      .all(row.name, row.version)
      .map(
        (v): ModelVariantRecord => ({
          precision: v.precision as ModelVariantRecord['precision'],
          format: v.format as ModelVariantRecord['format'],
          sha256: v.sha256,
          size: v.size,
          signed: SignedManifestSchema.parse(JSON.parse(v.signed)),
        }),
      )
      .sort((a, b) => PRECISION_ORDER.indexOf(a.precision) - PRECISION_ORDER.indexOf(b.precision));
    return {
      name: row.name,
      version: row.version,
      createdAt: row.created_at,
      lineage: row.lineage === null ? undefined : (JSON.parse(row.lineage) as Manifest['lineage']),
      variants,
    };
  }

  /** The database, for the owner's open check. */
  get db(): Database {
    return this.#db;
  }
}
