/**
 * The migration step of fleet telemetry and drift state (one step per backend, appended to
 * `HUB_SQLITE_MIGRATIONS` and `HUB_POSTGRES_MIGRATIONS` as one line each): what the
 * telemetry fold (`hub/store/telemetry.ts`) derives from the stored `telemetry.device` and
 * `telemetry.drift` events, so that a restarted hub and every replica read the same.
 *
 * - `telemetry_cursor`: the fold's position per (device, epoch) in the telemetry lane;
 * - `telemetry_counters`: counts kept by the fold (invalid reports by kind);
 * - `device_telemetry`: the latest report per device and its history (JSON, oldest first);
 * - `drift_baselines`: the baseline of each model version (JSON);
 * - `drift_models`: model versions with summaries, and their PSI/KS history (JSON);
 * - `drift_buckets`: the summaries of a model version summed per time bucket (JSON sums);
 * - `drift_devices`: when each device last summarised a model version;
 * - `drift_alerts`: raised alerts, open while `cleared_at` is null.
 */
export const TELEMETRY_SQLITE_MIGRATION = `
  CREATE TABLE telemetry_cursor (
    device_id TEXT NOT NULL,
    epoch     TEXT NOT NULL,
    seq       INTEGER NOT NULL,
    PRIMARY KEY (device_id, epoch)
  ) STRICT;
  CREATE TABLE telemetry_counters (
    name  TEXT PRIMARY KEY,
    value INTEGER NOT NULL
  ) STRICT;
  CREATE TABLE device_telemetry (
    device_id   TEXT PRIMARY KEY,
    received_at INTEGER NOT NULL,
    latest      TEXT NOT NULL,
    history     TEXT NOT NULL
  ) STRICT;
  CREATE TABLE drift_baselines (
    model      TEXT NOT NULL,
    version    TEXT NOT NULL,
    baseline   TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (model, version)
  ) STRICT;
  CREATE TABLE drift_models (
    model   TEXT NOT NULL,
    version TEXT NOT NULL,
    history TEXT NOT NULL,
    PRIMARY KEY (model, version)
  ) STRICT;
  CREATE TABLE drift_buckets (
    model   TEXT NOT NULL,
    version TEXT NOT NULL,
    start   INTEGER NOT NULL,
    end_at  INTEGER NOT NULL,
    rows    INTEGER NOT NULL,
    sums    TEXT NOT NULL,
    PRIMARY KEY (model, version, start)
  ) STRICT;
  CREATE TABLE drift_devices (
    model     TEXT NOT NULL,
    version   TEXT NOT NULL,
    device_id TEXT NOT NULL,
    last_at   INTEGER NOT NULL,
    PRIMARY KEY (model, version, device_id)
  ) STRICT;
  CREATE TABLE drift_alerts (
    id         INTEGER PRIMARY KEY,
    model      TEXT NOT NULL,
    version    TEXT NOT NULL,
    at         INTEGER NOT NULL,
    psi        REAL,
    ks         REAL,
    rows       INTEGER NOT NULL,
    cleared_at INTEGER
  ) STRICT;
  CREATE INDEX drift_alerts_open ON drift_alerts (model, version) WHERE cleared_at IS NULL;
`;

/** {@link TELEMETRY_SQLITE_MIGRATION} in PostgreSQL's types. */
export const TELEMETRY_POSTGRES_MIGRATION = `
  CREATE TABLE telemetry_cursor (
    device_id TEXT COLLATE "C" NOT NULL,
    epoch     TEXT COLLATE "C" NOT NULL,
    seq       BIGINT NOT NULL,
    PRIMARY KEY (device_id, epoch)
  );
  CREATE TABLE telemetry_counters (
    name  TEXT COLLATE "C" PRIMARY KEY,
    value BIGINT NOT NULL
  );
  CREATE TABLE device_telemetry (
    device_id   TEXT COLLATE "C" PRIMARY KEY,
    received_at BIGINT NOT NULL,
    latest      TEXT NOT NULL,
    history     TEXT NOT NULL
  );
  CREATE TABLE drift_baselines (
    model      TEXT COLLATE "C" NOT NULL,
    version    TEXT COLLATE "C" NOT NULL,
    baseline   TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (model, version)
  );
  CREATE TABLE drift_models (
    model   TEXT COLLATE "C" NOT NULL,
    version TEXT COLLATE "C" NOT NULL,
    history TEXT NOT NULL,
    PRIMARY KEY (model, version)
  );
  CREATE TABLE drift_buckets (
    model   TEXT COLLATE "C" NOT NULL,
    version TEXT COLLATE "C" NOT NULL,
    start   BIGINT NOT NULL,
    end_at  BIGINT NOT NULL,
    rows    BIGINT NOT NULL,
    sums    TEXT NOT NULL,
    PRIMARY KEY (model, version, start)
  );
  CREATE TABLE drift_devices (
    model     TEXT COLLATE "C" NOT NULL,
    version   TEXT COLLATE "C" NOT NULL,
    device_id TEXT COLLATE "C" NOT NULL,
    last_at   BIGINT NOT NULL,
    PRIMARY KEY (model, version, device_id)
  );
  CREATE TABLE drift_alerts (
    id         BIGINT PRIMARY KEY,
    model      TEXT COLLATE "C" NOT NULL,
    version    TEXT COLLATE "C" NOT NULL,
    at         BIGINT NOT NULL,
    psi        DOUBLE PRECISION,
    ks         DOUBLE PRECISION,
    rows       BIGINT NOT NULL,
    cleared_at BIGINT
  );
  CREATE INDEX drift_alerts_open ON drift_alerts (model, version) WHERE cleared_at IS NULL;
`;
