import { RATE_BUCKETS_SQLITE_MIGRATION } from './rate-limit-schema.js';
import { SECAGG_SQLITE_MIGRATION } from './secagg-schema.js';
import { TELEMETRY_SQLITE_MIGRATION } from './telemetry-schema.js';

/** The hub SQLite migration of federated learning, migration 7 below. */
const FEDERATED_SQLITE_MIGRATION = `
  CREATE TABLE fl_tasks (
    id           TEXT PRIMARY KEY,
    spec         TEXT NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('running', 'done', 'stopped', 'failed')),
    round        INTEGER NOT NULL,
    server_state TEXT,
    best         TEXT,
    reason       TEXT,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
  ) STRICT;
  CREATE TABLE fl_weights (
    task_id TEXT NOT NULL REFERENCES fl_tasks(id) ON DELETE CASCADE,
    round   INTEGER NOT NULL,
    weights BLOB NOT NULL,
    PRIMARY KEY (task_id, round)
  ) STRICT;
  CREATE TABLE fl_rounds (
    task_id   TEXT NOT NULL REFERENCES fl_tasks(id) ON DELETE CASCADE,
    round     INTEGER NOT NULL,
    status    TEXT NOT NULL CHECK (status IN ('open', 'closed', 'failed')),
    selected  TEXT NOT NULL,
    opened_at INTEGER NOT NULL,
    deadline  INTEGER NOT NULL,
    closed_at INTEGER,
    metrics   TEXT NOT NULL,
    PRIMARY KEY (task_id, round)
  ) STRICT;
  CREATE TABLE fl_chunks (
    task_id   TEXT NOT NULL REFERENCES fl_tasks(id) ON DELETE CASCADE,
    round     INTEGER NOT NULL,
    device_id TEXT NOT NULL,
    idx       INTEGER NOT NULL,
    total     INTEGER NOT NULL,
    digest    TEXT NOT NULL,
    bytes     BLOB NOT NULL,
    meta      TEXT NOT NULL,
    at        INTEGER NOT NULL,
    PRIMARY KEY (task_id, round, device_id, idx)
  ) STRICT;
  CREATE TABLE fl_updates (
    task_id    TEXT NOT NULL REFERENCES fl_tasks(id) ON DELETE CASCADE,
    round      INTEGER NOT NULL,
    device_id  TEXT NOT NULL,
    status     TEXT NOT NULL CHECK (status IN ('accepted', 'rejected', 'late')),
    reason     TEXT,
    applied_in INTEGER,
    at         INTEGER NOT NULL,
    PRIMARY KEY (task_id, round, device_id)
  ) STRICT;
  CREATE TABLE fl_evals (
    task_id   TEXT NOT NULL REFERENCES fl_tasks(id) ON DELETE CASCADE,
    round     INTEGER NOT NULL,
    device_id TEXT NOT NULL,
    examples  INTEGER NOT NULL,
    loss      REAL NOT NULL,
    accuracy  REAL NOT NULL,
    PRIMARY KEY (task_id, round, device_id)
  ) STRICT;
`;

/**
 * The hub SQLite migration of the agent bundles of the registry (over-the-air agent updates,
 * docs/agent-updates.md): one row per (release, platform) with its signed manifest; the
 * bytes are content-addressed artifacts like models'.
 */
export const AGENT_BUNDLES_SQLITE_MIGRATION = `
  CREATE TABLE agent_bundles (
    version    TEXT NOT NULL,
    platform   TEXT NOT NULL,
    sha256     TEXT NOT NULL,
    size       INTEGER NOT NULL,
    signed     TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (version, platform)
  ) STRICT;
  CREATE INDEX agent_bundles_sha ON agent_bundles (sha256);
`;

/**
 * Numbered migrations of the hub's SQLite store, applied by `runMigrations` (shared) and
 * tracked by `PRAGMA user_version`. Append only: never edit a released entry.
 */
export const HUB_SQLITE_MIGRATIONS: readonly string[] = [
  // 1: devices, desired state, events and their high-water marks.
  `
  CREATE TABLE devices (
    id          TEXT PRIMARY KEY,
    name        TEXT,
    labels      TEXT NOT NULL DEFAULT '{}',
    secret_hash TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    online      INTEGER NOT NULL DEFAULT 0,
    conn        TEXT,
    last_seen   INTEGER,
    reported    TEXT,
    reported_at INTEGER
  ) STRICT;

  CREATE TABLE desired (
    device_id TEXT PRIMARY KEY REFERENCES devices(id) ON DELETE CASCADE,
    rev       INTEGER NOT NULL,
    doc       TEXT NOT NULL
  ) STRICT;

  CREATE TABLE events (
    device_id   TEXT NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
    epoch       TEXT NOT NULL,
    lane        TEXT NOT NULL,
    seq         INTEGER NOT NULL,
    type        TEXT NOT NULL,
    at          INTEGER NOT NULL,
    body        TEXT,
    received_at INTEGER NOT NULL,
    PRIMARY KEY (device_id, epoch, lane, seq)
  ) STRICT;

  CREATE TABLE hwm (
    device_id TEXT NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
    epoch     TEXT NOT NULL,
    lane      TEXT NOT NULL,
    hwm       INTEGER NOT NULL,
    PRIMARY KEY (device_id, epoch, lane)
  ) STRICT;
  `,
  // 2: seqs skipped because the agent dropped them (loss ledger).
  `
  CREATE TABLE skips (
    device_id TEXT NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
    epoch     TEXT NOT NULL,
    lane      TEXT NOT NULL,
    from_seq  INTEGER NOT NULL,
    to_seq    INTEGER NOT NULL CHECK (to_seq >= from_seq),
    at        INTEGER NOT NULL,
    PRIMARY KEY (device_id, epoch, lane, from_seq)
  ) STRICT;
  CREATE INDEX skips_by_end ON skips (device_id, epoch, lane, to_seq);
  `,
  // 3: cloud re-scoring of inputs devices queued while the hub was unreachable.
  `
  CREATE INDEX events_rescore ON events (device_id, epoch, lane, seq) WHERE type = 'inference.rescore';
  CREATE TABLE rescores (
    device_id TEXT NOT NULL,
    epoch     TEXT NOT NULL,
    lane      TEXT NOT NULL,
    seq       INTEGER NOT NULL,
    model     TEXT NOT NULL,
    version   TEXT,
    engine    TEXT,
    outputs   TEXT,
    error     TEXT,
    at        INTEGER NOT NULL,
    PRIMARY KEY (device_id, epoch, lane, seq),
    FOREIGN KEY (device_id, epoch, lane, seq) REFERENCES events (device_id, epoch, lane, seq) ON DELETE CASCADE
  ) STRICT;
  `,
  // 4: model registry: versions with lineage, variants with signed manifests.
  `
  CREATE TABLE model_versions (
    name       TEXT NOT NULL,
    version    TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    lineage    TEXT,
    PRIMARY KEY (name, version)
  ) STRICT;
  CREATE TABLE model_variants (
    name      TEXT NOT NULL,
    version   TEXT NOT NULL,
    precision TEXT NOT NULL,
    format    TEXT NOT NULL,
    sha256    TEXT NOT NULL,
    size      INTEGER NOT NULL,
    signed    TEXT NOT NULL,
    PRIMARY KEY (name, version, precision),
    FOREIGN KEY (name, version) REFERENCES model_versions (name, version) ON DELETE CASCADE
  ) STRICT;
  CREATE INDEX model_variants_sha ON model_variants (sha256);
  `,
  // 5: Mosquitto hashes of device secrets, for an external broker's password file.
  `
  CREATE TABLE broker_credentials (
    device_id TEXT PRIMARY KEY REFERENCES devices(id) ON DELETE CASCADE,
    hash      TEXT NOT NULL
  ) STRICT;
  `,
  // 6: federated tasks, rounds, weights, update chunks and outcomes, evaluations.
  FEDERATED_SQLITE_MIGRATION,
  // 7: rollouts, their devices and timeline; per-model counters folded from
  // telemetry.model events with a cursor per (device, epoch).
  `
  CREATE TABLE rollouts (
    id               TEXT PRIMARY KEY,
    spec             TEXT NOT NULL,
    state            TEXT NOT NULL,
    stage            INTEGER NOT NULL,
    stage_started_at INTEGER NOT NULL,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    reason           TEXT
  ) STRICT;
  CREATE TABLE rollout_devices (
    rollout_id     TEXT NOT NULL REFERENCES rollouts(id) ON DELETE CASCADE,
    device_id      TEXT NOT NULL,
    arm            TEXT NOT NULL,
    version        TEXT NOT NULL,
    role           TEXT NOT NULL,
    stage          INTEGER NOT NULL,
    assigned_at    INTEGER NOT NULL,
    previous       TEXT,
    reported_at    INTEGER,
    excluded_at    INTEGER,
    rolled_back_at INTEGER,
    PRIMARY KEY (rollout_id, device_id)
  ) STRICT;
  CREATE INDEX rollout_devices_by_device ON rollout_devices (device_id);
  CREATE TABLE rollout_events (
    rollout_id TEXT NOT NULL REFERENCES rollouts(id) ON DELETE CASCADE,
    seq        INTEGER NOT NULL,
    at         INTEGER NOT NULL,
    kind       TEXT NOT NULL,
    stage      INTEGER NOT NULL,
    message    TEXT NOT NULL,
    detail     TEXT,
    PRIMARY KEY (rollout_id, seq)
  ) STRICT;
  CREATE TABLE model_counters (
    rollout_id       TEXT NOT NULL,
    device_id        TEXT NOT NULL,
    model            TEXT NOT NULL,
    version          TEXT NOT NULL,
    role             TEXT NOT NULL,
    requests         INTEGER NOT NULL,
    errors           INTEGER NOT NULL,
    latency          TEXT NOT NULL,
    latency_sum_ms   REAL NOT NULL,
    confidence_sum   REAL NOT NULL,
    confidence_count INTEGER NOT NULL,
    compared         INTEGER NOT NULL,
    agreed           INTEGER NOT NULL,
    first_at         INTEGER NOT NULL,
    last_at          INTEGER NOT NULL,
    PRIMARY KEY (rollout_id, device_id, model, version, role)
  ) STRICT;
  CREATE TABLE model_metrics_cursor (
    device_id TEXT NOT NULL,
    epoch     TEXT NOT NULL,
    seq       INTEGER NOT NULL,
    PRIMARY KEY (device_id, epoch)
  ) STRICT;
  `,
  // 8: agent bundles (over-the-air agent updates).
  AGENT_BUNDLES_SQLITE_MIGRATION,
  // 8: device telemetry and drift state, folded from the stored telemetry events.
  TELEMETRY_SQLITE_MIGRATION,
  // 9: secure-aggregation rounds: the protocol state a new hub process finishes a round from.
  SECAGG_SQLITE_MIGRATION,
  // 10: token buckets every replica charges (shared rate limits).
  RATE_BUCKETS_SQLITE_MIGRATION,
];
