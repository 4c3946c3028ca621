import type Database from 'better-sqlite3';
import { OutpostError } from '../../shared/index.js';

/** Which use a stored example is kept for. */
export const SAMPLE_SPLITS = ['train', 'holdout'] as const;
export type SampleSplit = (typeof SAMPLE_SPLITS)[number];

/** One labelled example as the local API hands it over. */
export interface NewSample {
  /** The input features, row-major float32. */
  features: Float32Array;
  /** Shape of one example's features, e.g. `[784]` or `[28, 28, 1]`. */
  dims: readonly number[];
  /** Class index (a non-negative integer). */
  label: number;
  split: SampleSplit;
}

/** Quota of the sample store (config `samples`). */
export interface SampleQuota {
  /** Most examples kept, all splits together. */
  maxRows: number;
  /** Most feature bytes kept (4 per float32 element), all splits together. */
  maxBytes: number;
}

/** Counts of one split. */
export interface SplitStats {
  rows: number;
  bytes: number;
  /** Examples per class label. */
  labels: Record<string, number>;
}

/** What `GET /v1/samples/stats` answers. */
export interface SampleStats {
  total: { rows: number; bytes: number };
  splits: Record<SampleSplit, SplitStats>;
  /** Shape of one example's features; null while the store is empty. */
  dims: number[] | null;
  quota: SampleQuota;
}

/** Every example of one split, features concatenated (n × elements). */
export interface SampleSet {
  features: Float32Array;
  labels: Int32Array;
  dims: number[];
  count: number;
}

interface Row {
  label: number;
  dims: string;
  features: Buffer;
}

/**
 * Labelled examples kept on the device for federated training and evaluation.
 * They never leave the device: nothing here is enqueued or published. Every
 * example of a store has the same feature shape (the first one stored sets it, until the
 * store is emptied), so a training task can stack them. A write that would pass the quota
 * stores nothing and throws `AGENT_SAMPLES_FULL`.
 */
export class SampleStore {
  readonly #db: Database.Database;
  readonly #quota: SampleQuota;
  readonly #insert: Database.Statement<[string, number, string, Buffer, number, number]>;
  readonly #totals: Database.Statement<[], { rows: number; bytes: number }>;
  readonly #anyDims: Database.Statement<[], { dims: string }>;
  readonly #insertMany: (samples: readonly NewSample[], at: number) => number;

  constructor(db: Database.Database, quota: SampleQuota) {
    this.#db = db;
    this.#quota = quota;
    this.#insert = db.prepare(
      'INSERT INTO samples (split, label, dims, features, bytes, created_at) VALUES (?, ?, ?, ?, ?, ?)',
    );
    this.#totals = db.prepare('SELECT COUNT(*) AS rows, COALESCE(SUM(bytes), 0) AS bytes FROM samples');
    this.#anyDims = db.prepare('SELECT dims FROM samples LIMIT 1');
    this.#insertMany = db.transaction((samples: readonly NewSample[], at: number) => {
      const totals = this.#totals.get() ?? { rows: 0, bytes: 0 };
      const bytes = samples.reduce((sum, s) => sum + s.features.byteLength, 0);
      if (totals.rows + samples.length > quota.maxRows || totals.bytes + bytes > quota.maxBytes) {
        throw new OutpostError(
          'AGENT_SAMPLES_FULL',
          `sample store full: ${totals.rows} examples (${totals.bytes} bytes) stored, ${samples.length} ` +
            `(${bytes} bytes) more would pass the quota of ${quota.maxRows} examples / ${quota.maxBytes} bytes`,
          { details: { stored: totals, adding: { rows: samples.length, bytes }, quota } },
        );
      }
      const stored = this.#anyDims.get()?.dims;
      for (const [i, s] of samples.entries()) {
        const dims = JSON.stringify(s.dims);
        if (stored !== undefined && dims !== stored) {
          throw new OutpostError(
            'AGENT_BAD_REQUEST',
            `samples[${i}]: features of shape ${dims} do not match the stored examples' shape ${stored}`,
          );
        }
        const buf = Buffer.from(s.features.buffer, s.features.byteOffset, s.features.byteLength);
        this.#insert.run(s.split, s.label, dims, buf, buf.byteLength, at);
      }
      return samples.length;
    });
  }

  /** Stores examples all or none (one transaction); returns how many. */
  add(samples: readonly NewSample[], at: number = Date.now()): number {
    const first = samples[0];
    if (first === undefined) return 0;
    for (const [i, s] of samples.entries()) {
      const want = s.dims.reduce((n, d) => n * d, 1);
      if (s.features.length !== want || want === 0) {
        throw new OutpostError(
          'AGENT_BAD_REQUEST',
          `samples[${i}]: ${s.features.length} feature values do not fill the shape ${JSON.stringify(s.dims)}`,
        );
      }
      if (JSON.stringify(s.dims) !== JSON.stringify(first.dims)) {
        throw new OutpostError(
          'AGENT_BAD_REQUEST',
          `samples[${i}]: shape ${JSON.stringify(s.dims)} differs from samples[0]'s ${JSON.stringify(first.dims)}`,
        );
      }
    }
    return this.#insertMany(samples, at);
  }

  /** Counts per split and label, the feature shape and the quota. */
  stats(): SampleStats {
    const rows = this.#db
      .prepare<[], { split: SampleSplit; label: number; rows: number; bytes: number }>(
        'SELECT split, label, COUNT(*) AS rows, SUM(bytes) AS bytes FROM samples GROUP BY split, label',
      )
      .all();
    const splits: Record<SampleSplit, SplitStats> = {
      train: { rows: 0, bytes: 0, labels: {} },
      holdout: { rows: 0, bytes: 0, labels: {} },
    };
    for (const r of rows) {
      const s = splits[r.split];
      s.rows += r.rows;
      s.bytes += r.bytes;
      s.labels[String(r.label)] = r.rows;
    }
    const dims = this.#anyDims.get()?.dims;
    return {
      total: this.#totals.get() ?? { rows: 0, bytes: 0 },
      splits,
      dims: dims === undefined ? null : (JSON.parse(dims) as number[]),
      quota: { ...this.#quota },
    };
  }

  /** Every example of a split, in insertion order; undefined when there is none. */
  load(split: SampleSplit): SampleSet | undefined {
    const rows = this.#db
      .prepare<[string], Row>('SELECT label, dims, features FROM samples WHERE split = ? ORDER BY id')
      .all(split);
    const first = rows[0];
    if (first === undefined) return undefined;
    const dims = JSON.parse(first.dims) as number[];
    const size = first.features.byteLength / 4;
    const features = new Float32Array(rows.length * size);
    const bytes = new Uint8Array(features.buffer);
    const labels = new Int32Array(rows.length);
    for (const [i, r] of rows.entries()) {
      // Copied byte-wise: a blob's Buffer need not be 4-byte aligned for a Float32Array view.
      bytes.set(r.features.subarray(0, size * 4), i * size * 4);
      labels[i] = r.label;
    }
    return { features, labels, dims, count: rows.length };
  }

  /** Deletes every example, or those of one split; returns how many. */
  clear(split?: SampleSplit): number {
    if (split === undefined) return this.#db.prepare('DELETE FROM samples').run().changes;
    return this.#db.prepare('DELETE FROM samples WHERE split = ?').run(split).changes;
  }
}
