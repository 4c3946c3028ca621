import type Database from 'better-sqlite3';
import { type Manifest, ManifestSchema, type PRECISIONS } from '../../shared/index.js';

export type Precision = (typeof PRECISIONS)[number];

/** An installed model variant. */
export interface InstalledModel {
  name: string;
  version: string;
  precision: Precision;
  manifest: Manifest;
  /** Install time, ms. */
  installedAt: number;
}

/** Per-model result policy. */
export interface ModelPolicy {
  /** Queue results in the outbox `results` lane: never, a systematic sample, or every one. */
  upload: 'none' | 'sampled' | 'all';
  /** Fraction of results queued under `sampled`, 0-1 (default 0.1). */
  sampleRate: number;
  /** Whether results are cached (default true). */
  cache: boolean;
  /** The application's preprocessing version, part of the cache key (default ''). */
  preprocessing: string;
}

export const DEFAULT_POLICY: ModelPolicy = {
  upload: 'none',
  sampleRate: 0.1,
  cache: true,
  preprocessing: '',
};

interface ModelRow {
  name: string;
  version: string;
  precision: string;
  manifest: string;
  installed_at: number;
}

/** The agent's model tables: installed variants, the active pointer, policies. */
export class ModelStore {
  readonly #db: Database.Database;
  /** Policies read once, kept in memory: `policy()` is on every inference's path. */
  readonly #policies = new Map<string, ModelPolicy>();

  constructor(db: Database.Database) {
    this.#db = db;
  }

  /** Records an installed variant (replacing a reinstall of the same name/version/precision). */
  add(manifest: Manifest, at: number): void {
    this.#db
      .prepare(
        `INSERT INTO models (name, version, precision, format, sha256, size, manifest, installed_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (name, version, precision) DO UPDATE SET format = excluded.format,
           sha256 = excluded.sha256, size = excluded.size, manifest = excluded.manifest,
           installed_at = excluded.installed_at`,
      )
      .run(
        manifest.name,
        manifest.version,
        manifest.precision,
        manifest.format,
        manifest.sha256,
        manifest.size,
        JSON.stringify(manifest),
        Math.trunc(at),
      );
  }

  #rows(sql: string, ...params: unknown[]): InstalledModel[] {
    return (this.#db.prepare(sql).all(...params) as ModelRow[]).map((r) => ({
      name: r.name,
      version: r.version,
      precision: r.precision as Precision,
      manifest: ManifestSchema.parse(JSON.parse(r.manifest)),
      installedAt: r.installed_at,
    }));
  }

  /** Every installed variant, by name then install time. */
  list(): InstalledModel[] {
    return this.#rows('SELECT * FROM models ORDER BY name, installed_at, version, precision');
  }

  /** The installed variants of one version. */
  variants(name: string, version: string): InstalledModel[] {
    return this.#rows('SELECT * FROM models WHERE name = ? AND version = ?', name, version);
  }

  /**
   * Forgets every variant of `name@version` (old versions are collected). Returns
   * the sha256 of each removed artifact no other installed variant still uses.
   */
  remove(name: string, version: string): string[] {
    const removed = this.variants(name, version).map((v) => v.manifest.sha256);
    this.#db.prepare('DELETE FROM models WHERE name = ? AND version = ?').run(name, version);
    const used = this.#db.prepare('SELECT 1 FROM models WHERE sha256 = ? LIMIT 1');
    return [...new Set(removed)].filter((sha) => used.get(sha) === undefined);
  }

  /** Sum of installed artifact sizes, bytes, counting each distinct artifact once. */
  totalBytes(): number {
    const row = this.#db
      .prepare('SELECT COALESCE(SUM(size), 0) AS n FROM (SELECT DISTINCT sha256, size FROM models)')
      .get() as {
      n: number;
    };
    return row.n;
  }

  /** The active variant per model name. */
  active(): Array<{ name: string; version: string; precision: Precision }> {
    return this.#db
      .prepare('SELECT name, version, precision FROM active_models ORDER BY name')
      .all() as Array<{
      name: string;
      version: string;
      precision: Precision;
    }>;
  }

  /** Switches the active pointer in one statement (docs/architecture.md "Model artifacts": atomic activation). */
  setActive(name: string, version: string, precision: Precision, at: number): void {
    this.#db
      .prepare(
        `INSERT INTO active_models (name, version, precision, activated_at) VALUES (?, ?, ?, ?)
         ON CONFLICT (name) DO UPDATE SET version = excluded.version, precision = excluded.precision,
           activated_at = excluded.activated_at`,
      )
      .run(name, version, precision, Math.trunc(at));
  }

  /** The model's policy, defaults where none was set. */
  policy(name: string): ModelPolicy {
    const known = this.#policies.get(name);
    if (known) return known;
    const policy = this.#readPolicy(name);
    this.#policies.set(name, policy);
    return policy;
  }

  #readPolicy(name: string): ModelPolicy {
    const row = this.#db
      .prepare('SELECT upload, sample_rate, cache, preprocessing FROM model_policies WHERE name = ?')
      .get(name) as
      | { upload: ModelPolicy['upload']; sample_rate: number; cache: number; preprocessing: string }
      | undefined;
    if (!row) return { ...DEFAULT_POLICY };
    return {
      upload: row.upload,
      sampleRate: row.sample_rate,
      cache: row.cache === 1,
      preprocessing: row.preprocessing,
    };
  }

  /** Stores a model's policy. */
  setPolicy(name: string, policy: ModelPolicy): void {
    this.#db
      .prepare(
        `INSERT INTO model_policies (name, upload, sample_rate, cache, preprocessing) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (name) DO UPDATE SET upload = excluded.upload, sample_rate = excluded.sample_rate,
           cache = excluded.cache, preprocessing = excluded.preprocessing`,
      )
      .run(name, policy.upload, policy.sampleRate, policy.cache ? 1 : 0, policy.preprocessing);
    this.#policies.set(name, { ...policy });
  }
}
