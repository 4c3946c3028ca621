import { LANES } from '../../shared/index.js';

/**
 * The agent store's numbered migrations (DESIGN.md "Storage"), applied by `runMigrations`
 * from shared, each in its own transaction. `epoch` is written by migration 1 only, so a
 * store gets its random epoch exactly once, atomically with its creation.
 *
 * @param epoch - a fresh base64url store epoch; only used when migration 1 runs.
 */
export function agentMigrations(epoch: string, createdAt: number): readonly string[] {
  if (!/^[A-Za-z0-9_-]{16,64}$/.test(epoch)) throw new RangeError('epoch must be 16-64 base64url characters');
  const laneRows = LANES.map((lane) => `('${lane}')`).join(', ');
  return [
    `
    CREATE TABLE meta (
      key   TEXT PRIMARY KEY,
      value TEXT NOT NULL
    ) WITHOUT ROWID;
    INSERT INTO meta (key, value) VALUES ('epoch', '${epoch}'), ('created_at', '${Math.trunc(createdAt)}');

    -- Per-lane counters: next_seq only ever grows, so a seq is never reused after its row is
    -- deleted (nor after a restart). acked counts the events the hub acknowledged.
    CREATE TABLE lane_counters (
      lane     TEXT PRIMARY KEY,
      next_seq INTEGER NOT NULL DEFAULT 1 CHECK (next_seq >= 1),
      acked    INTEGER NOT NULL DEFAULT 0 CHECK (acked >= 0)
    ) WITHOUT ROWID;
    INSERT INTO lane_counters (lane) VALUES ${laneRows};

    -- Events waiting for the hub's ack. bytes = UTF-8 length of the event's wire envelope.
    CREATE TABLE outbox (
      lane  TEXT NOT NULL,
      seq   INTEGER NOT NULL,
      type  TEXT NOT NULL,
      at    INTEGER NOT NULL,
      body  TEXT NOT NULL,
      bytes INTEGER NOT NULL,
      PRIMARY KEY (lane, seq)
    ) WITHOUT ROWID;

    -- The single desired-state record: the last applied rev and document, and the outcome of
    -- the most recent desired document received.
    CREATE TABLE desired_state (
      id          INTEGER PRIMARY KEY CHECK (id = 1),
      applied_rev INTEGER NOT NULL DEFAULT 0,
      doc         TEXT,
      outcome     TEXT,
      updated_at  INTEGER
    );
    INSERT INTO desired_state (id) VALUES (1);
    `,
    // Issue 3: installed models (one row per name, version and precision variant), the
    // active pointer per model, per-model result policies, and the result cache.
    `
    CREATE TABLE models (
      name         TEXT NOT NULL,
      version      TEXT NOT NULL,
      precision    TEXT NOT NULL,
      format       TEXT NOT NULL,
      sha256       TEXT NOT NULL,
      size         INTEGER NOT NULL,
      manifest     TEXT NOT NULL,
      installed_at INTEGER NOT NULL,
      PRIMARY KEY (name, version, precision)
    ) WITHOUT ROWID;

    CREATE TABLE active_models (
      name         TEXT PRIMARY KEY,
      version      TEXT NOT NULL,
      precision    TEXT NOT NULL,
      activated_at INTEGER NOT NULL
    ) WITHOUT ROWID;

    CREATE TABLE model_policies (
      name          TEXT PRIMARY KEY,
      upload        TEXT NOT NULL CHECK (upload IN ('none', 'sampled', 'all')),
      sample_rate   REAL NOT NULL CHECK (sample_rate >= 0 AND sample_rate <= 1),
      cache         INTEGER NOT NULL CHECK (cache IN (0, 1)),
      preprocessing TEXT NOT NULL DEFAULT ''
    ) WITHOUT ROWID;

    -- key = sha256(model, version, precision, preprocessing version, digest of the inputs).
    -- last_used is a monotonic use counter: the smallest is the least recently used.
    CREATE TABLE result_cache (
      key        TEXT PRIMARY KEY,
      model      TEXT NOT NULL,
      version    TEXT NOT NULL,
      precision  TEXT NOT NULL,
      outputs    BLOB NOT NULL,
      bytes      INTEGER NOT NULL,
      created_at INTEGER NOT NULL,
      expires_at INTEGER NOT NULL,
      last_used  INTEGER NOT NULL
    );
    CREATE INDEX result_cache_lru ON result_cache (last_used);
    CREATE INDEX result_cache_model ON result_cache (model);
    `,
  ];
}
