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
  ];
}
