/**
 * The migration step of secure-aggregation rounds (one step per backend, appended to
 * `HUB_SQLITE_MIGRATIONS` and `HUB_POSTGRES_MIGRATIONS` as one line each): the protocol
 * state a hub process needs to finish a secure round another process started
 * (`hub/store/secagg.ts`, `hub/federated/secagg-persistence.ts`).
 *
 * - `fl_secagg_rounds`: one row per secure round, opened with its `fl_rounds` row: the phase
 *   the devices were told and since when, the round's parameters, the task as published
 *   (without its `secagg` section), the roster, U2 and U3 once each phase fixed them, and
 *   the sequence number of the last message taken;
 * - `fl_secagg_messages`: the advertisements, sealed key shares and unmasking answers the
 *   devices sent, one per (device, kind), numbered in the order they were taken.
 *
 * The masked inputs are the round's update chunks (`fl_chunks`). No foreign key points into
 * the federated tables (their migrations stay free to change them): rows of rounds that
 * ended, or whose task stopped, are pruned by `pruneSecAggRounds`. Nothing here is secret from
 * the hub: it is what the server side of the protocol sees anyway. Both tables are emptied
 * of a round once it ended.
 */
export const SECAGG_SQLITE_MIGRATION = `
  CREATE TABLE fl_secagg_rounds (
    task_id      TEXT NOT NULL,
    round        INTEGER NOT NULL,
    phase        TEXT NOT NULL CHECK (phase IN ('advertise', 'share', 'mask', 'unmask')),
    phase_at     INTEGER NOT NULL,
    params       TEXT NOT NULL,
    max_examples INTEGER NOT NULL,
    task         TEXT NOT NULL,
    roster       TEXT,
    submitted    TEXT,
    survivors    TEXT,
    seq          INTEGER NOT NULL,
    PRIMARY KEY (task_id, round)
  ) STRICT;
  CREATE TABLE fl_secagg_messages (
    task_id   TEXT NOT NULL,
    round     INTEGER NOT NULL,
    device_id TEXT NOT NULL,
    kind      TEXT NOT NULL CHECK (kind IN ('advertise', 'shares', 'unmask')),
    seq       INTEGER NOT NULL,
    body      TEXT NOT NULL,
    at        INTEGER NOT NULL,
    PRIMARY KEY (task_id, round, device_id, kind),
    FOREIGN KEY (task_id, round) REFERENCES fl_secagg_rounds (task_id, round) ON DELETE CASCADE
  ) STRICT;
  CREATE INDEX fl_secagg_messages_seq ON fl_secagg_messages (task_id, round, seq);
`;

/** {@link SECAGG_SQLITE_MIGRATION} in PostgreSQL's types. */
export const SECAGG_POSTGRES_MIGRATION = `
  CREATE TABLE fl_secagg_rounds (
    task_id      TEXT COLLATE "C" NOT NULL,
    round        INTEGER NOT NULL,
    phase        TEXT NOT NULL CHECK (phase IN ('advertise', 'share', 'mask', 'unmask')),
    phase_at     BIGINT NOT NULL,
    params       TEXT NOT NULL,
    max_examples INTEGER NOT NULL,
    task         TEXT NOT NULL,
    roster       TEXT,
    submitted    TEXT,
    survivors    TEXT,
    seq          BIGINT NOT NULL,
    PRIMARY KEY (task_id, round)
  );
  CREATE TABLE fl_secagg_messages (
    task_id   TEXT COLLATE "C" NOT NULL,
    round     INTEGER NOT NULL,
    device_id TEXT COLLATE "C" NOT NULL,
    kind      TEXT NOT NULL CHECK (kind IN ('advertise', 'shares', 'unmask')),
    seq       BIGINT NOT NULL,
    body      TEXT NOT NULL,
    at        BIGINT NOT NULL,
    PRIMARY KEY (task_id, round, device_id, kind),
    FOREIGN KEY (task_id, round) REFERENCES fl_secagg_rounds (task_id, round) ON DELETE CASCADE
  );
  CREATE INDEX fl_secagg_messages_seq ON fl_secagg_messages (task_id, round, seq);
`;
