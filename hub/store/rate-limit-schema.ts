/**
 * The migration step of shared rate limits (one step per backend, appended to
 * `HUB_SQLITE_MIGRATIONS` and `HUB_POSTGRES_MIGRATIONS` as one line each): token buckets
 * that every replica charges (`hub/store/rate-buckets.ts`), so a budget holds for the fleet
 * of replicas and across restarts. A bucket that has refilled is the same as no row: rows
 * exist only while a key has spent tokens.
 */
export const RATE_BUCKETS_SQLITE_MIGRATION = `
  CREATE TABLE rate_buckets (
    scope  TEXT NOT NULL,
    key    TEXT NOT NULL,
    tokens REAL NOT NULL,
    at     INTEGER NOT NULL,
    PRIMARY KEY (scope, key)
  ) STRICT;
  CREATE INDEX rate_buckets_at ON rate_buckets (scope, at);
`;

/** {@link RATE_BUCKETS_SQLITE_MIGRATION} in PostgreSQL's types. */
export const RATE_BUCKETS_POSTGRES_MIGRATION = `
  CREATE TABLE rate_buckets (
    scope  TEXT COLLATE "C" NOT NULL,
    key    TEXT COLLATE "C" NOT NULL,
    tokens DOUBLE PRECISION NOT NULL,
    at     BIGINT NOT NULL,
    PRIMARY KEY (scope, key)
  );
  CREATE INDEX rate_buckets_at ON rate_buckets (scope, at);
`;
