import type Database from 'better-sqlite3';
import { type EventEnvelope, LANES, type Lane, OutpostError } from '../../shared/index.js';

/** Counters of one lane, as reported: events waiting, ever enqueued, ever acknowledged. */
export interface LaneCounters {
  pending: number;
  enqueued: number;
  acked: number;
}

/** A batch of the oldest consecutive events of one lane. */
export interface OutboxBatch {
  lane: Lane;
  events: EventEnvelope[];
  /** Sum of the events' envelope sizes, bytes. */
  bytes: number;
}

interface Row {
  seq: number;
  type: string;
  at: number;
  body: string;
  bytes: number;
}

/** UTF-8 size of the JSON envelope `{"seq":…,"type":…,"at":…,"body":…}` as it travels. */
export function envelopeBytes(seq: number, type: string, at: number, bodyJson: string): number {
  return (
    Buffer.byteLength(`{"seq":${seq},"type":${JSON.stringify(type)},"at":${at},"body":`) +
    Buffer.byteLength(bodyJson) +
    1
  );
}

/**
 * The durable outbox (DESIGN.md "Delivery contract"): per-lane monotonic sequence numbers
 * assigned in the transaction that stores the event; rows leave only on the hub's ack.
 */
export class OutboxStore {
  readonly #db: Database.Database;
  readonly #epoch: string;
  readonly #enqueueTx: (lane: Lane, type: string, at: number, bodyJson: string, maxBytes: number) => number;
  readonly #ackTx: (lane: Lane, hwm: number) => number;
  readonly #selectOldest: Database.Statement<[Lane, number], Row>;
  readonly #hasPending: Database.Statement<[Lane], { one: number }>;
  readonly #counters: Database.Statement<[], { lane: string; next_seq: number; acked: number }>;

  constructor(db: Database.Database, epoch: string) {
    this.#db = db;
    this.#epoch = epoch;
    const bump = db.prepare<[Lane], { seq: number }>(
      `INSERT INTO lane_counters (lane, next_seq) VALUES (?, 2)
       ON CONFLICT (lane) DO UPDATE SET next_seq = next_seq + 1
       RETURNING next_seq - 1 AS seq`,
    );
    const insert = db.prepare(
      'INSERT INTO outbox (lane, seq, type, at, body, bytes) VALUES (?, ?, ?, ?, ?, ?)',
    );
    this.#enqueueTx = db.transaction((lane: Lane, type: string, at: number, bodyJson: string, maxBytes) => {
      const row = bump.get(lane);
      if (!row) throw new OutpostError('AGENT_INTERNAL', `no sequence number for lane ${lane}`);
      const bytes = envelopeBytes(row.seq, type, at, bodyJson);
      if (bytes > maxBytes) {
        // Throwing rolls the counter back too: no seq is burnt by a refused event.
        throw new OutpostError(
          'PROTO_PAYLOAD_TOO_LARGE',
          `event of ${bytes} bytes exceeds the batch limit of ${maxBytes} bytes`,
        );
      }
      insert.run(lane, row.seq, type, at, bodyJson, bytes);
      return row.seq;
    });
    const del = db.prepare('DELETE FROM outbox WHERE lane = ? AND seq <= ?');
    const addAcked = db.prepare('UPDATE lane_counters SET acked = acked + ? WHERE lane = ?');
    this.#ackTx = db.transaction((lane: Lane, hwm: number) => {
      const deleted = del.run(lane, hwm).changes;
      if (deleted > 0) addAcked.run(deleted, lane);
      return deleted;
    });
    this.#selectOldest = db.prepare<[Lane, number], Row>(
      'SELECT seq, type, at, body, bytes FROM outbox WHERE lane = ? ORDER BY seq LIMIT ?',
    );
    this.#hasPending = db.prepare<[Lane], { one: number }>(
      'SELECT 1 AS one FROM outbox WHERE lane = ? LIMIT 1',
    );
    this.#counters = db.prepare('SELECT lane, next_seq, acked FROM lane_counters');
  }

  /**
   * Stores one event and returns its seq; durable (per the store's durability) on return.
   * `bodyJson` is the body already serialised. Throws `PROTO_PAYLOAD_TOO_LARGE` when the
   * event's envelope exceeds `maxEnvelopeBytes` (it could never fit in a batch).
   */
  enqueue(lane: Lane, type: string, bodyJson: string, at: number, maxEnvelopeBytes: number): number {
    return this.#enqueueTx(lane, type, Math.trunc(at), bodyJson, maxEnvelopeBytes);
  }

  /**
   * Applies the hub's cumulative ack: deletes the lane's events with seq ≤ `hwm`. An ack for
   * another epoch (an older store of this device) is ignored. Returns the rows deleted.
   */
  ackUpTo(epoch: string, lane: Lane, hwm: number): number {
    if (epoch !== this.#epoch) return 0;
    return this.#ackTx(lane, hwm);
  }

  /**
   * The oldest consecutive events of `lane`, at most `maxEvents` and `maxBytes` of envelopes,
   * but always at least one event when the lane is not empty; `undefined` when it is.
   */
  readBatch(lane: Lane, maxEvents: number, maxBytes: number): OutboxBatch | undefined {
    const events: EventEnvelope[] = [];
    let bytes = 0;
    for (const row of this.#selectOldest.iterate(lane, Math.max(1, maxEvents))) {
      const last = events[events.length - 1];
      if (last && (row.seq !== last.seq + 1 || bytes + row.bytes > maxBytes)) break;
      events.push({ seq: row.seq, type: row.type, at: row.at, body: JSON.parse(row.body) as unknown });
      bytes += row.bytes;
    }
    return events.length > 0 ? { lane, events, bytes } : undefined;
  }

  /** The first lane, in the order of `LANES`, that holds events; `undefined` when all are empty. */
  firstPendingLane(): Lane | undefined {
    return LANES.find((lane) => this.#hasPending.get(lane) !== undefined);
  }

  /** Counters of every lane. `pending` = enqueued − acked (rows leave only on ack). */
  counters(): Record<Lane, LaneCounters> {
    const out = Object.fromEntries(LANES.map((l) => [l, { pending: 0, enqueued: 0, acked: 0 }])) as Record<
      Lane,
      LaneCounters
    >;
    for (const row of this.#counters.all()) {
      const lane = out[row.lane as Lane];
      if (!lane) continue;
      lane.enqueued = row.next_seq - 1;
      lane.acked = row.acked;
      lane.pending = lane.enqueued - lane.acked;
    }
    return out;
  }

  /** Rows actually stored in `lane` (a check on the counters; O(n)). */
  countRows(lane: Lane): number {
    const row = this.#db.prepare('SELECT COUNT(*) AS n FROM outbox WHERE lane = ?').get(lane) as {
      n: number;
    };
    return row.n;
  }
}
