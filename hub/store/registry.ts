import { type Manifest, OutpostError, SignedManifestSchema } from '../../shared/index.js';
import type { ModelVariantRecord, ModelVersionRecord } from './registry-types.js';
import { chunks, placeholders, type Sql } from './sql/seam.js';
import type { HubStore } from './types.js';

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

/** The model-registry methods of {@link HubStore}. */
export type RegistryArea = Pick<
  HubStore,
  'putModelVariant' | 'getModelVersion' | 'listModelVersions' | 'deleteModelVersion' | 'artifactInUse'
>;

/** Versions with their variants, in the order of `versions`. */
async function records(q: Sql, versions: VersionRow[]): Promise<ModelVersionRecord[]> {
  const variants: VariantRow[] = [];
  for (const part of chunks(versions, 5_000)) {
    const tuples = part.map(() => placeholders(2)).join(', ');
    variants.push(
      ...(await q.all<VariantRow>(
        `SELECT * FROM model_variants WHERE (name, version) IN (VALUES ${tuples})`,
        part.flatMap((row) => [row.name, row.version]),
      )),
    );
  }
  return versions.map((row) => ({
    name: row.name,
    version: row.version,
    createdAt: row.created_at,
    lineage: row.lineage === null ? undefined : (JSON.parse(row.lineage) as Manifest['lineage']),
    variants: variants
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

/** The model registry: versions with lineage, variants with signed manifests. */
export function registryArea(db: Sql): RegistryArea {
  const area: RegistryArea = {
    async putModelVariant(name, version, lineage, v, atMs): Promise<ModelVersionRecord> {
      await db.tx(async (q) => {
        await q.run(
          `INSERT INTO model_versions (name, version, created_at, lineage) VALUES (?, ?, ?, ?)
           ON CONFLICT (name, version) DO NOTHING`,
          [name, version, atMs, lineage === undefined ? null : JSON.stringify(lineage)],
        );
        try {
          await q.run(
            `INSERT INTO model_variants (name, version, precision, format, sha256, size, signed)
             VALUES (?, ?, ?, ?, ?, ?, ?)`,
            [name, version, v.precision, v.format, v.sha256, v.size, JSON.stringify(v.signed)],
          );
        } catch (err) {
          if (q.dialect.isUniqueViolation(err)) {
            throw new OutpostError(
              'HUB_MODEL_EXISTS',
              `${name}@${version} already has a ${v.precision} variant; push another version or variant`,
            );
          }
          throw err;
        }
      });
      return (await area.getModelVersion(name, version)) as ModelVersionRecord;
    },

    async getModelVersion(name: string, version: string): Promise<ModelVersionRecord | undefined> {
      const row = await db.get<VersionRow>('SELECT * FROM model_versions WHERE name = ? AND version = ?', [
        name,
        version,
      ]);
      return row === undefined ? undefined : (await records(db, [row]))[0];
    },

    async listModelVersions(name?: string): Promise<ModelVersionRecord[]> {
      const rows =
        name === undefined
          ? await db.all<VersionRow>('SELECT * FROM model_versions ORDER BY name, created_at, version')
          : await db.all<VersionRow>(
              'SELECT * FROM model_versions WHERE name = ? ORDER BY created_at, version',
              [name],
            );
      return records(db, rows);
    },

    async deleteModelVersion(name: string, version: string): Promise<boolean> {
      return (await db.run('DELETE FROM model_versions WHERE name = ? AND version = ?', [name, version])) > 0;
    },

    async artifactInUse(sha256: string): Promise<boolean> {
      return (
        (await db.get('SELECT 1 AS one FROM model_variants WHERE sha256 = ? LIMIT 1', [sha256])) !==
          undefined ||
        (await db.get('SELECT 1 AS one FROM agent_bundles WHERE sha256 = ? LIMIT 1', [sha256])) !== undefined
      );
    },
  };
  return area;
}
