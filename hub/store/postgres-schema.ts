import { RATE_BUCKETS_POSTGRES_MIGRATION } from './rate-limit-schema.js';
import { SECAGG_POSTGRES_MIGRATION } from './secagg-schema.js';
import { TELEMETRY_POSTGRES_MIGRATION } from './telemetry-schema.js';
/** The agent bundles on PostgreSQL; mirrors `AGENT_BUNDLES_SQLITE_MIGRATION`. */
export const AGENT_BUNDLES_POSTGRES_MIGRATION = `
  CREATE TABLE agent_bundles (
    version    TEXT COLLATE "C" NOT NULL,
    platform   TEXT COLLATE "C" NOT NULL,
    sha256     TEXT NOT NULL,
    size       BIGINT NOT NULL,
    signed     TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (version, platform)
  );
  CREATE INDEX agent_bundles_sha ON agent_bundles (sha256);
`;

/** The federated tables on PostgreSQL; mirrors `FEDERATED_SQLITE_MIGRATION`. */
const FEDERATED_POSTGRES_MIGRATION = `
  CREATE TABLE fl_tasks (
    id           TEXT COLLATE "C" PRIMARY KEY,
    spec         TEXT NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('running', 'done', 'stopped', 'failed')),
    round        INTEGER NOT NULL,
    server_state TEXT,
    best         TEXT, reason TEXT,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL
  );
  CREATE TABLE fl_weights (
    task_id TEXT COLLATE "C" NOT NULL REFERENCES fl_tasks(id) ON DELETE CASCADE,
    round   INTEGER NOT NULL,
    weights BYTEA NOT NULL,
    PRIMARY KEY (task_id, round)
  );
  CREATE TABLE fl_rounds (
    task_id   TEXT COLLATE "C" NOT NULL REFERENCES fl_tasks(id) ON DELETE CASCADE,
    round     INTEGER NOT NULL,
    status    TEXT NOT NULL CHECK (status IN ('open', 'closed', 'failed')),
    selected  TEXT NOT NULL,
    opened_at BIGINT NOT NULL,
    deadline  BIGINT NOT NULL,
    closed_at BIGINT,
    metrics   TEXT NOT NULL,
    PRIMARY KEY (task_id, round)
  );
  CREATE TABLE fl_chunks (
    task_id   TEXT COLLATE "C" NOT NULL REFERENCES fl_tasks(id) ON DELETE CASCADE,
    round     INTEGER NOT NULL,
    device_id TEXT COLLATE "C" NOT NULL,
    idx       INTEGER NOT NULL,
    total     INTEGER NOT NULL,
    digest    TEXT NOT NULL,
    bytes     BYTEA NOT NULL,
    meta      TEXT NOT NULL,
    at        BIGINT NOT NULL,
    PRIMARY KEY (task_id, round, device_id, idx)
  );
  CREATE TABLE fl_updates (
    task_id    TEXT COLLATE "C" NOT NULL REFERENCES fl_tasks(id) ON DELETE CASCADE,
    round      INTEGER NOT NULL,
    device_id  TEXT COLLATE "C" NOT NULL,
    status     TEXT NOT NULL CHECK (status IN ('accepted', 'rejected', 'late')),
    reason     TEXT,
    applied_in INTEGER,
    at         BIGINT NOT NULL,
    PRIMARY KEY (task_id, round, device_id)
  );
  CREATE TABLE fl_evals (
    task_id   TEXT COLLATE "C" NOT NULL REFERENCES fl_tasks(id) ON DELETE CASCADE,
    round     INTEGER NOT NULL,
    device_id TEXT COLLATE "C" NOT NULL,
    examples  INTEGER NOT NULL,
    loss      DOUBLE PRECISION NOT NULL,
    accuracy  DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (task_id, round, device_id)
  );
`;

/**
 * Numbered migrations of the hub's PostgreSQL store, applied in order by
 * `postgres-migrate.ts` and tracked in the table `outpost_migrations`. Append only: never
 * edit a released entry. They mirror `sqlite-schema.ts` table for table, so that one
 * contract suite holds for both. Text keys use `COLLATE "C"` so that `ORDER BY` is byte
 * order, as in SQLite; times are hub/device milliseconds in `BIGINT`; JSON is kept as
 * `TEXT` (exact bytes back, and `\u0000` in a body is stored rather than refused as `JSONB`
 * would).
 */
export const HUB_POSTGRES_MIGRATIONS: readonly string[] = [
  // 1: devices, desired state, events and their high-water marks.
  `
  CREATE TABLE devices (
    id          TEXT COLLATE "C" PRIMARY KEY,
    name        TEXT,
    labels      TEXT NOT NULL DEFAULT '{}',
    secret_hash TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    online      BOOLEAN NOT NULL DEFAULT FALSE,
    conn        TEXT,
    last_seen   BIGINT,
    reported    TEXT,
    reported_at BIGINT
  );

  CREATE TABLE desired (
    device_id TEXT COLLATE "C" PRIMARY KEY REFERENCES devices(id) ON DELETE CASCADE,
    rev       INTEGER NOT NULL,
    doc       TEXT NOT NULL
  );

  CREATE TABLE events (
    device_id   TEXT COLLATE "C" NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
    epoch       TEXT COLLATE "C" NOT NULL,
    lane        TEXT COLLATE "C" NOT NULL,
    seq         BIGINT NOT NULL,
    type        TEXT NOT NULL,
    at          BIGINT NOT NULL,
    body        TEXT,
    received_at BIGINT NOT NULL,
    PRIMARY KEY (device_id, epoch, lane, seq)
  );

  CREATE TABLE hwm (
    device_id TEXT COLLATE "C" NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
    epoch     TEXT COLLATE "C" NOT NULL,
    lane      TEXT COLLATE "C" NOT NULL,
    hwm       BIGINT NOT NULL,
    PRIMARY KEY (device_id, epoch, lane)
  );
  `,
  // 2: seqs skipped because the agent dropped them (loss ledger).
  `
  CREATE TABLE skips (
    device_id TEXT COLLATE "C" NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
    epoch     TEXT COLLATE "C" NOT NULL,
    lane      TEXT COLLATE "C" NOT NULL,
    from_seq  BIGINT NOT NULL,
    to_seq    BIGINT NOT NULL CHECK (to_seq >= from_seq),
    at        BIGINT NOT NULL,
    PRIMARY KEY (device_id, epoch, lane, from_seq)
  );
  CREATE INDEX skips_by_end ON skips (device_id, epoch, lane, to_seq);
  `,
  // 3: cloud re-scoring of inputs devices queued while the hub was unreachable.
  `
  CREATE INDEX events_rescore ON events (received_at, device_id, epoch, lane, seq)
    WHERE type = 'inference.rescore';
  CREATE TABLE rescores (
    device_id TEXT COLLATE "C" NOT NULL,
    epoch     TEXT COLLATE "C" NOT NULL,
    lane      TEXT COLLATE "C" NOT NULL,
    seq       BIGINT NOT NULL,
    model     TEXT NOT NULL,
    version   TEXT, engine TEXT,
    outputs   TEXT,
    error     TEXT,
    at        BIGINT NOT NULL,
    PRIMARY KEY (device_id, epoch, lane, seq),
    FOREIGN KEY (device_id, epoch, lane, seq) REFERENCES events (device_id, epoch, lane, seq) ON DELETE CASCADE
  );
  `,
  // 4: leases of the replicas' singleton jobs: who drives what, until when.
  `
  CREATE TABLE leases (
    name       TEXT COLLATE "C" PRIMARY KEY,
    holder     TEXT NOT NULL,
    fence      BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
  );
  `,
  // 5: model registry: versions with lineage, variants with signed manifests.
  `
  CREATE TABLE model_versions (
    name       TEXT COLLATE "C" NOT NULL,
    version    TEXT COLLATE "C" NOT NULL,
    created_at BIGINT NOT NULL,
    lineage    TEXT,
    PRIMARY KEY (name, version)
  );
  CREATE TABLE model_variants (
    name      TEXT COLLATE "C" NOT NULL,
    version   TEXT COLLATE "C" NOT NULL,
    precision TEXT NOT NULL, format TEXT NOT NULL,
    sha256    TEXT NOT NULL,
    size      BIGINT NOT NULL,
    signed    TEXT NOT NULL,
    PRIMARY KEY (name, version, precision),
    FOREIGN KEY (name, version) REFERENCES model_versions (name, version) ON DELETE CASCADE
  );
  CREATE INDEX model_variants_sha ON model_variants (sha256);
  `,
  // 6: Mosquitto hashes of device secrets, for an external broker's password file.
  `
  CREATE TABLE broker_credentials (
    device_id TEXT COLLATE "C" PRIMARY KEY REFERENCES devices(id) ON DELETE CASCADE,
    hash      TEXT NOT NULL
  );
  `,
  // 7: federated tasks, rounds, weights, update chunks and outcomes, evaluations.
  FEDERATED_POSTGRES_MIGRATION,
  // 8: rollouts, their devices and timeline; per-model counters folded from telemetry.model
  // events with a cursor per (device, epoch).
  `
  CREATE TABLE rollouts (
    id               TEXT COLLATE "C" PRIMARY KEY,
    spec             TEXT NOT NULL,
    state            TEXT NOT NULL,
    stage            INTEGER NOT NULL,
    stage_started_at BIGINT NOT NULL,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL,
    reason           TEXT
  );
  CREATE TABLE rollout_devices (
    rollout_id     TEXT COLLATE "C" NOT NULL REFERENCES rollouts(id) ON DELETE CASCADE,
    device_id      TEXT COLLATE "C" NOT NULL,
    arm            TEXT NOT NULL,
    version        TEXT NOT NULL,
    role           TEXT NOT NULL,
    stage          INTEGER NOT NULL,
    assigned_at    BIGINT NOT NULL,
    previous       TEXT,
    reported_at    BIGINT,
    excluded_at    BIGINT,
    rolled_back_at BIGINT,
    PRIMARY KEY (rollout_id, device_id)
  );
  CREATE INDEX rollout_devices_by_device ON rollout_devices (device_id);
  CREATE TABLE rollout_events (
    rollout_id TEXT COLLATE "C" NOT NULL REFERENCES rollouts(id) ON DELETE CASCADE,
    seq        INTEGER NOT NULL,
    at         BIGINT NOT NULL,
    kind       TEXT NOT NULL,
    stage      INTEGER NOT NULL,
    message    TEXT NOT NULL,
    detail     TEXT,
    PRIMARY KEY (rollout_id, seq)
  );
  CREATE TABLE model_counters (
    rollout_id       TEXT COLLATE "C" NOT NULL,
    device_id        TEXT COLLATE "C" NOT NULL,
    model            TEXT COLLATE "C" NOT NULL,
    version          TEXT COLLATE "C" NOT NULL,
    role             TEXT COLLATE "C" NOT NULL,
    requests         BIGINT NOT NULL,
    errors           BIGINT NOT NULL,
    latency          TEXT NOT NULL,
    latency_sum_ms   DOUBLE PRECISION NOT NULL,
    confidence_sum   DOUBLE PRECISION NOT NULL,
    confidence_count BIGINT NOT NULL,
    compared         BIGINT NOT NULL,
    agreed           BIGINT NOT NULL,
    first_at         BIGINT NOT NULL,
    last_at          BIGINT NOT NULL,
    PRIMARY KEY (rollout_id, device_id, model, version, role)
  );
  CREATE TABLE model_metrics_cursor (
    device_id TEXT COLLATE "C" NOT NULL,
    epoch     TEXT COLLATE "C" NOT NULL,
    seq       BIGINT NOT NULL,
    PRIMARY KEY (device_id, epoch)
  );
  `,
  // 9: agent bundles (over-the-air agent updates).
  AGENT_BUNDLES_POSTGRES_MIGRATION,
  // 9: device telemetry and drift state, folded from the stored telemetry events.
  TELEMETRY_POSTGRES_MIGRATION,
  // 10: secure-aggregation rounds: the protocol state a new hub process finishes a round from.
  SECAGG_POSTGRES_MIGRATION,
  // 11: token buckets every replica charges (shared rate limits).
  RATE_BUCKETS_POSTGRES_MIGRATION,
];
