import {
  type DesiredState,
  type DeviceId,
  type Manifest,
  OutpostError,
  PROTOCOL_VERSION,
  SignedManifestSchema,
} from '../../shared/index.js';
import type { PgPool, Queryable } from './postgres-pool.js';
import type { DesiredMutation, ModelVariantRecord, ModelVersionRecord } from './registry-types.js';
import { desiredBodyOf } from './sqlite-registry.js';

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
const UNIQUE_VIOLATION = '23505';

/**
 * Applies `mutate` to the desired documents of `ids` in one transaction (the
 * semantics of `sqlite-registry.ts`). The device rows are locked in id order first, so two
 * replicas updating overlapping sets wait for each other instead of deadlocking or losing a
 * revision.
 */
export async function updateDesiredPostgres(
  pool: PgPool,
  ids: readonly DeviceId[],
  mutate: DesiredMutation,
  at: number,
): Promise<Map<DeviceId, DesiredState>> {
  return pool.tx(async (q) => {
    const unique = [...new Set(ids)];
    const found = await q.query<{ id: string }>(
      'SELECT id FROM devices WHERE id = ANY($1::TEXT[]) ORDER BY id FOR UPDATE',
      [unique],
    );
    const known = new Set(found.rows.map((r) => r.id));
    const missing = ids.find((id) => !known.has(id));
    if (missing !== undefined) throw new OutpostError('HUB_DEVICE_NOT_FOUND', `no device ${missing}`);
    const docs = await q.query<{ device_id: string; doc: string }>(
      'SELECT device_id, doc FROM desired WHERE device_id = ANY($1::TEXT[])',
      [unique],
    );
    const current = new Map(docs.rows.map((r) => [r.device_id, JSON.parse(r.doc) as DesiredState]));
    const out = new Map<DeviceId, DesiredState>();
    for (const id of ids) {
      const previous = out.get(id) ?? current.get(id);
      const body = mutate(previous === undefined ? undefined : desiredBodyOf(previous), id);
      if (body === null) continue;
      out.set(id, { v: PROTOCOL_VERSION, rev: (previous?.rev ?? 0) + 1, at, ...body });
    }
    if (out.size > 0) {
      const changed = [...out.entries()];
      await q.query(
        `INSERT INTO desired (device_id, rev, doc)
         SELECT * FROM unnest($1::TEXT[], $2::INTEGER[], $3::TEXT[])
         ON CONFLICT (device_id) DO UPDATE SET rev = excluded.rev, doc = excluded.doc`,
        [changed.map(([id]) => id), changed.map(([, d]) => d.rev), changed.map(([, d]) => JSON.stringify(d))],
      );
    }
    return out;
  });
}

/** The model registry on PostgreSQL: versions, variants, signed manifests. */
export const postgresRegistry = {
  async putVariant(
    pool: PgPool,
    name: string,
    version: string,
    lineage: Manifest['lineage'],
    v: ModelVariantRecord,
    at: number,
  ): Promise<ModelVersionRecord> {
    await pool.tx(async (q) => {
      await q.query(
        `INSERT INTO model_versions (name, version, created_at, lineage) VALUES ($1, $2, $3, $4)
         ON CONFLICT (name, version) DO NOTHING`,
        [name, version, at, lineage === undefined ? null : JSON.stringify(lineage)],
      );
      try {
        await q.query(
          `INSERT INTO model_variants (name, version, precision, format, sha256, size, signed)
           VALUES ($1, $2, $3, $4, $5, $6, $7)`,
          [name, version, v.precision, v.format, v.sha256, v.size, JSON.stringify(v.signed)],
        );
      } catch (err) {
        if ((err as { code?: string }).code === UNIQUE_VIOLATION) {
          throw new OutpostError(
            'HUB_MODEL_EXISTS',
            `${name}@${version} already has a ${v.precision} variant; push another version or variant`,
          );
        }
        throw err;
      }
    });
    return (await postgresRegistry.get(pool, name, version)) as ModelVersionRecord;
  },

  async get(q: Queryable, name: string, version: string): Promise<ModelVersionRecord | undefined> {
    const { rows } = await q.query<VersionRow>(
      'SELECT * FROM model_versions WHERE name = $1 AND version = $2',
      [name, version],
    );
    return rows[0] === undefined ? undefined : (await records(q, rows))[0];
  },

  async list(q: Queryable, name?: string): Promise<ModelVersionRecord[]> {
    const { rows } =
      name === undefined
        ? await q.query<VersionRow>('SELECT * FROM model_versions ORDER BY name, created_at, version')
        : await q.query<VersionRow>(
            'SELECT * FROM model_versions WHERE name = $1 ORDER BY created_at, version',
            [name],
          );
    return records(q, rows);
  },

  async delete(q: Queryable, name: string, version: string): Promise<boolean> {
    const result = await q.query('DELETE FROM model_versions WHERE name = $1 AND version = $2', [
      name,
      version,
    ]);
    return (result.rowCount ?? 0) > 0;
  },

  async artifactInUse(q: Queryable, sha256: string): Promise<boolean> {
    const { rows } = await q.query('SELECT 1 FROM model_variants WHERE sha256 = $1 LIMIT 1', [sha256]);
    return rows.length > 0;
  },
};

async function records(q: Queryable, versions: VersionRow[]): Promise<ModelVersionRecord[]> {
  if (versions.length === 0) return [];
  const { rows } = await q.query<VariantRow>(
    `SELECT v.* FROM model_variants v
     JOIN unnest($1::TEXT[], $2::TEXT[]) AS k(name, version) USING (name, version)`,
    [versions.map((r) => r.name), versions.map((r) => r.version)],
  );
  return versions.map((row) => ({
    name: row.name,
    version: row.version,
    createdAt: row.created_at,
    lineage: row.lineage === null ? undefined : (JSON.parse(row.lineage) as Manifest['lineage']),
    variants: rows
      .filter((v) => v.name === row.name && v.version === row.version)
      .map(
        (v): ModelVariantRecord => ({
          precision: v.precision as ModelVariantRecord['precision'],
          format: v.format as ModelVariantRecord['format'],
          sha256: v.sha256,
          size: v.size,
          signed: SignedManifestSchema.parse(JSON.parse(v.signed)),
        }),
      )
      .sort((a, b) => PRECISION_ORDER.indexOf(a.precision) - PRECISION_ORDER.indexOf(b.precision)),
  }));
}
