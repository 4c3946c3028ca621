import { createHash } from 'node:crypto';
import type Database from 'better-sqlite3';
import type { CacheReport } from '../../shared/index.js';

/** Hits whose recency is written together. */
const TOUCH_BATCH = 256;

/** What identifies a cached result. */
export interface CacheKeyParts {
  model: string;
  version: string;
  /** The variant (fp32/fp16/int8). */
  precision: string;
  /** The application's preprocessing version. */
  preprocessing: string;
  /** `digestTensors` of the inputs. */
  inputDigest: string;
}

/** Cache limits: byte quota (LRU beyond it) and time to live. */
export interface CacheLimits {
  /** Most bytes of cached outputs; 0 disables the cache. */
  maxBytes: number;
  /** Seconds a result stays valid. */
  ttlS: number;
}

/** The key: SHA-256 over the parts, each length-prefixed so no two part lists collide. */
export function cacheKey(parts: CacheKeyParts): string {
  const hash = createHash('sha256');
  for (const part of [parts.model, parts.version, parts.precision, parts.preprocessing, parts.inputDigest]) {
    hash.update(`${Buffer.byteLength(part)}:${part};`);
  }
  return hash.digest('hex');
}

/**
 * The result cache in the agent's SQLite file: TTL, a byte quota with least-recently-used
 * eviction, invalidation by model, and hit/miss/eviction counters since start.
 */
export class ResultCache {
  readonly #db: Database.Database;
  readonly #limits: CacheLimits;
  readonly #now: () => number;
  #useCounter: number;
  #bytes: number;
  #entries: number;
  #hits = 0;
  #misses = 0;
  #evictions = 0;
  /**
   * Recency of hits not yet written: a hit costs a read only; the use counters are written
   * in one transaction before anything that orders by them (put, eviction) or every
   * {@link TOUCH_BATCH} hits. A crash loses only some recency, never an entry.
   */
  readonly #touched = new Map<string, number>();
  readonly #flushTouches: () => void;
  readonly #select: Database.Statement<[string], { outputs: Buffer; bytes: number; expires_at: number }>;
  readonly #touch: Database.Statement<[number, string]>;
  readonly #insert: Database.Statement<
    [string, string, string, string, Buffer, number, number, number, number]
  >;
  readonly #sizeOf: Database.Statement<[string], { bytes: number }>;

  constructor(db: Database.Database, limits: CacheLimits, now: () => number = Date.now) {
    this.#db = db;
    this.#limits = limits;
    this.#now = now;
    const row = db
      .prepare(
        'SELECT COUNT(*) AS n, COALESCE(SUM(bytes), 0) AS b, COALESCE(MAX(last_used), 0) AS u FROM result_cache',
      )
      .get() as { n: number; b: number; u: number };
    this.#entries = row.n;
    this.#bytes = row.b;
    this.#useCounter = row.u;
    this.#select = db.prepare('SELECT outputs, bytes, expires_at FROM result_cache WHERE key = ?');
    this.#touch = db.prepare('UPDATE result_cache SET last_used = ? WHERE key = ?');
    this.#insert = db.prepare(
      `INSERT OR REPLACE INTO result_cache
         (key, model, version, precision, outputs, bytes, created_at, expires_at, last_used)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    this.#sizeOf = db.prepare('SELECT bytes FROM result_cache WHERE key = ?');
    this.#flushTouches = db.transaction(() => {
      for (const [key, used] of this.#touched) this.#touch.run(used, key);
      this.#touched.clear();
    });
    if (this.#bytes > limits.maxBytes) this.#evict();
  }

  /** The cached outputs for `key`, or undefined (counted as a miss; an expired entry is removed). */
  get(key: string): Buffer | undefined {
    const row = this.#select.get(key);
    if (!row || row.expires_at <= this.#now()) {
      if (row) this.#delete(key, row.bytes);
      this.#misses++;
      return undefined;
    }
    this.#touched.set(key, ++this.#useCounter);
    if (this.#touched.size >= TOUCH_BATCH) this.flush();
    this.#hits++;
    return row.outputs;
  }

  /**
   * Stores outputs under `key`, then evicts least-recently-used entries until the quota
   * holds. An entry larger than the whole quota is not stored (returns false).
   */
  put(key: string, parts: CacheKeyParts, outputs: Buffer): boolean {
    const bytes = outputs.byteLength;
    if (bytes > this.#limits.maxBytes) return false;
    this.flush();
    const now = this.#now();
    const old = this.#sizeOf.get(key);
    const expires = now + this.#limits.ttlS * 1000;
    this.#insert.run(
      key,
      parts.model,
      parts.version,
      parts.precision,
      outputs,
      bytes,
      now,
      expires,
      ++this.#useCounter,
    );
    this.#bytes += bytes - (old?.bytes ?? 0);
    if (!old) this.#entries++;
    this.#evict();
    return true;
  }

  /**
   * Drops a model's entries except those of the variant now active (all of them when
   * `keep` is undefined): called when the active version changes. Returns entries dropped.
   */
  invalidate(model: string, keep?: { version: string; precision: string }): number {
    const where = keep ? 'model = ? AND NOT (version = ? AND precision = ?)' : 'model = ?';
    const params = keep ? [model, keep.version, keep.precision] : [model];
    const row = this.#db
      .prepare(`SELECT COUNT(*) AS n, COALESCE(SUM(bytes), 0) AS b FROM result_cache WHERE ${where}`)
      .get(...params) as { n: number; b: number };
    this.#db.prepare(`DELETE FROM result_cache WHERE ${where}`).run(...params);
    this.#entries -= row.n;
    this.#bytes -= row.b;
    return row.n;
  }

  /** Writes pending hit recency (call before closing the database). */
  flush(): void {
    if (this.#touched.size > 0) this.#flushTouches();
  }

  /** Counters since start, entries and bytes now. */
  report(): CacheReport {
    return {
      hits: this.#hits,
      misses: this.#misses,
      evictions: this.#evictions,
      entries: this.#entries,
      bytes: this.#bytes,
      maxBytes: this.#limits.maxBytes,
    };
  }

  #delete(key: string, bytes: number): void {
    this.#touched.delete(key);
    if (this.#db.prepare('DELETE FROM result_cache WHERE key = ?').run(key).changes > 0) {
      this.#entries--;
      this.#bytes -= bytes;
    }
  }

  /** Expired entries first, then least recently used, until the quota holds. */
  #evict(): void {
    if (this.#bytes <= this.#limits.maxBytes) return;
    const expired = this.#db
      .prepare('SELECT key, bytes FROM result_cache WHERE expires_at <= ?')
      .all(this.#now()) as Array<{ key: string; bytes: number }>;
    for (const e of expired) this.#delete(e.key, e.bytes);
    if (this.#bytes <= this.#limits.maxBytes) return;
    const oldest = this.#db.prepare('SELECT key, bytes FROM result_cache ORDER BY last_used LIMIT 64');
    while (this.#bytes > this.#limits.maxBytes) {
      const batch = oldest.all() as Array<{ key: string; bytes: number }>;
      if (batch.length === 0) break;
      for (const e of batch) {
        if (this.#bytes <= this.#limits.maxBytes) break;
        this.#delete(e.key, e.bytes);
        this.#evictions++;
      }
    }
  }
}
