import { LANES } from '../../shared/index.js';

/**
 * The agent store's numbered migrations (docs/architecture.md "Storage"), applied by `runMigrations`
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
    // Installed models (one row per name, version and precision variant), the
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
    // Quotas, TTL in the agent's persisted monotonic clock, and the loss ledger.
    // lane_counters: dropped = events the ledger counts as lost; unconfirmed = dropped events
    // the hub may have stored before the drop (their ack not seen), until it says; the
    // *_through marks are seqs: highest dropped, highest the hub answered about, highest ever
    // published. outbox.clock_ms = agent clock at enqueue (TTL). meta clock_ms = the clock.
    `
    ALTER TABLE lane_counters ADD COLUMN dropped INTEGER NOT NULL DEFAULT 0 CHECK (dropped >= 0);
    ALTER TABLE lane_counters ADD COLUMN unconfirmed INTEGER NOT NULL DEFAULT 0 CHECK (unconfirmed >= 0);
    ALTER TABLE lane_counters ADD COLUMN pending_bytes INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE lane_counters ADD COLUMN dropped_through INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE lane_counters ADD COLUMN drop_confirmed_through INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE lane_counters ADD COLUMN sent_through INTEGER NOT NULL DEFAULT 0;
    UPDATE lane_counters SET pending_bytes =
      (SELECT COALESCE(SUM(bytes), 0) FROM outbox WHERE outbox.lane = lane_counters.lane);
    ALTER TABLE outbox ADD COLUMN clock_ms INTEGER NOT NULL DEFAULT 0;
    INSERT INTO meta (key, value) VALUES ('clock_ms', '0');

    -- Every event lost, as ranges of consecutive seqs of one lane and reason.
    CREATE TABLE loss_ledger (
      id       INTEGER PRIMARY KEY,
      lane     TEXT NOT NULL,
      reason   TEXT NOT NULL CHECK (reason IN ('quota', 'ttl')),
      from_seq INTEGER NOT NULL,
      to_seq   INTEGER NOT NULL CHECK (to_seq >= from_seq),
      bytes    INTEGER NOT NULL CHECK (bytes >= 0),
      first_at INTEGER NOT NULL,
      last_at  INTEGER NOT NULL
    );
    CREATE INDEX loss_ledger_by_lane ON loss_ledger (lane);

    -- Dropped events that had been published: lost or not is the hub's to say.
    CREATE TABLE loss_unconfirmed (
      lane   TEXT NOT NULL,
      seq    INTEGER NOT NULL,
      reason TEXT NOT NULL CHECK (reason IN ('quota', 'ttl')),
      bytes  INTEGER NOT NULL,
      at     INTEGER NOT NULL,
      PRIMARY KEY (lane, seq)
    ) WITHOUT ROWID;
    `,
    // Labelled examples for federated training and evaluation. Never
    // uploaded. features = float32 little-endian, dims = JSON shape of one example.
    `
    CREATE TABLE samples (
      id         INTEGER PRIMARY KEY,
      split      TEXT NOT NULL CHECK (split IN ('train', 'holdout')),
      label      INTEGER NOT NULL CHECK (label >= 0),
      dims       TEXT NOT NULL,
      features   BLOB NOT NULL,
      bytes      INTEGER NOT NULL CHECK (bytes >= 0),
      created_at INTEGER NOT NULL
    );
    CREATE INDEX samples_by_split ON samples (split, id);
    `,
    // What the device did in each federated round (submitted survives
    // restarts: a round is trained and sent at most once).
    `
    CREATE TABLE fl_rounds (
      task_id    TEXT NOT NULL,
      round      INTEGER NOT NULL,
      status     TEXT NOT NULL CHECK (status IN ('submitted', 'skipped')),
      detail     TEXT NOT NULL,
      at         INTEGER NOT NULL,
      PRIMARY KEY (task_id, round)
    ) WITHOUT ROWID;
    `,
    // Artifact downloads in progress (bytes = durable prefix of the
    // staging file, so a download resumes across restarts) and per-model delivery state (the
    // last refusal, reported to the hub).
    `
    CREATE TABLE delivery_downloads (
      sha256     TEXT PRIMARY KEY,
      name       TEXT NOT NULL,
      version    TEXT NOT NULL,
      size       INTEGER NOT NULL CHECK (size >= 0),
      bytes      INTEGER NOT NULL CHECK (bytes >= 0),
      updated_at INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE delivery_models (
      name       TEXT PRIMARY KEY,
      refused    TEXT,
      updated_at INTEGER NOT NULL
    ) WITHOUT ROWID;
    `,
    // Federated updates waiting to be uploaded over HTTP: recorded in the
    // round's transaction (with the update's event and the round's mark), removed once the
    // hub holds every byte or refuses the upload; the bytes are in `file`.
    `
    CREATE TABLE fl_uploads (
      task_id    TEXT NOT NULL,
      round      INTEGER NOT NULL,
      sha256     TEXT NOT NULL,
      size       INTEGER NOT NULL CHECK (size > 0),
      file       TEXT NOT NULL,
      created_at INTEGER NOT NULL,
      PRIMARY KEY (task_id, round)
    ) WITHOUT ROWID;
    `,
    // The device's side of a secure-aggregation round in progress, so that a restart resumes
    // it: phase = the last phase answered, written in the transaction that enqueues that
    // answer; client = its protocol state as JSON, secrets included (key pairs, self-mask
    // seed, shares received); input = the clipped delta (float32 little-endian, flattened)
    // until it is masked, with its shapes and figures. Deleted when the round ends here or
    // is superseded.
    `
    CREATE TABLE fl_secagg (
      task_id    TEXT NOT NULL,
      round      INTEGER NOT NULL,
      phase      TEXT NOT NULL CHECK (phase IN ('advertise', 'share', 'mask')),
      client     TEXT NOT NULL,
      input      BLOB,
      shapes     TEXT NOT NULL,
      figures    TEXT NOT NULL,
      updated_at INTEGER NOT NULL,
      PRIMARY KEY (task_id, round)
    ) WITHOUT ROWID;
    `,
  ];
}
