import type Database from 'better-sqlite3';
import { type Ack, type EventEnvelope, LANES, type Lane, OutpostError } from '../../shared/index.js';
import { QUOTA_POLICIES } from '../outbox/policies/index.js';
import type { AgentClock } from './agent-clock.js';
import { applyDrop, LaneCounterTable, pendingOf } from './lane-counters.js';
import type { LossLedger, ResolveOutcome } from './loss-ledger.js';
import { type DropEvent, OutboxDropper } from './outbox-drops.js';
import {
  type AckOutcome,
  envelopeBytes,
  type LaneCounters,
  type LaneQuota,
  type LaneState,
  type OutboxBatch,
  UNLIMITED_LANE,
} from './outbox-types.js';

export * from './outbox-types.js';

/**
 * The durable outbox (docs/architecture.md "Delivery contract"): per-lane monotonic sequence
 * numbers assigned in the transaction that stores the event; rows leave on the hub's ack or
 * by a drop (quota `drop-oldest`, TTL), which is booked in the loss ledger in the same
 * transaction. Every method that writes is one transaction.
 */
export class OutboxStore {
  readonly #epoch: string;
  readonly #quotas: Readonly<Record<Lane, LaneQuota>>;
  readonly #clock: AgentClock;
  readonly #dropper: OutboxDropper;
  readonly #counters: LaneCounterTable;
  readonly #insert: Database.Statement<[Lane, number, string, number, string, number, number]>;
  readonly #after: Database.Statement<
    [Lane, number, number],
    { seq: number; type: string; at: number; body: string; bytes: number }
  >;
  readonly #ackedSum: Database.Statement<[Lane, number], { n: number; b: number }>;
  readonly #deleteThrough: Database.Statement<[Lane, number]>;
  readonly #enqueueTx: (
    lane: Lane,
    type: string,
    at: number,
    bodyJson: string,
    max: number,
  ) => [number, DropEvent?];
  readonly #takeTx: (
    lane: Lane,
    after: number,
    maxEvents: number,
    maxBytes: number,
  ) => OutboxBatch | undefined;
  readonly #ackTx: (ack: Ack) => AckOutcome;
  readonly #expireTx: (lane: Lane, maxRows: number, at: number) => DropEvent | undefined;

  constructor(
    db: Database.Database,
    epoch: string,
    options: { clock: AgentClock; quotas?: Partial<Record<Lane, LaneQuota>> | undefined },
  ) {
    this.#epoch = epoch;
    this.#clock = options.clock;
    this.#quotas = Object.fromEntries(LANES.map((l) => [l, options.quotas?.[l] ?? UNLIMITED_LANE])) as Record<
      Lane,
      LaneQuota
    >;
    this.#dropper = new OutboxDropper(db);
    this.#counters = new LaneCounterTable(db);
    this.#insert = db.prepare(
      'INSERT INTO outbox (lane, seq, type, at, body, bytes, clock_ms) VALUES (?, ?, ?, ?, ?, ?, ?)',
    );
    this.#after = db.prepare(
      'SELECT seq, type, at, body, bytes FROM outbox WHERE lane = ? AND seq > ? ORDER BY seq LIMIT ?',
    );
    this.#ackedSum = db.prepare(
      'SELECT COUNT(*) AS n, COALESCE(SUM(bytes), 0) AS b FROM outbox WHERE lane = ? AND seq <= ?',
    );
    this.#deleteThrough = db.prepare('DELETE FROM outbox WHERE lane = ? AND seq <= ?');
    this.#enqueueTx = db.transaction((lane, type, at, bodyJson, max) =>
      this.#enqueue(lane, type, at, bodyJson, max),
    );
    this.#takeTx = db.transaction((lane, after, maxEvents, maxBytes) =>
      this.#take(lane, after, maxEvents, maxBytes),
    );
    this.#ackTx = db.transaction((ack: Ack) => this.#ack(ack));
    this.#expireTx = db.transaction((lane: Lane, maxRows: number, at: number) =>
      this.#expire(lane, maxRows, at),
    );
  }

  /** The loss ledger of this store. */
  get ledger(): LossLedger {
    return this.#dropper.ledger;
  }

  /** The quota in force for `lane`. */
  quota(lane: Lane): LaneQuota {
    return this.#quotas[lane];
  }

  /**
   * Stores one event and returns its seq; durable (per the store's durability) on return.
   * A full lane applies its policy: `back-pressure` throws `AGENT_OUTBOX_FULL`;
   * `drop-oldest` drops the oldest events in this same transaction (see {@link enqueueWithDrop}).
   * Throws `PROTO_PAYLOAD_TOO_LARGE` when the envelope exceeds `maxEnvelopeBytes` (it could
   * never fit in a batch) or the lane's `maxBytes`. A refused event uses no seq.
   */
  enqueue(lane: Lane, type: string, bodyJson: string, at: number, maxEnvelopeBytes: number): number {
    return this.enqueueWithDrop(lane, type, bodyJson, at, maxEnvelopeBytes)[0];
  }

  /** {@link enqueue}, also returning the drop it caused, if any. */
  enqueueWithDrop(
    lane: Lane,
    type: string,
    bodyJson: string,
    at: number,
    maxEnvelopeBytes: number,
  ): [seq: number, drop?: DropEvent] {
    return this.#enqueueTx(lane, type, Math.trunc(at), bodyJson, maxEnvelopeBytes);
  }

  /**
   * The next events of `lane` after seq `after` (0: from the oldest), at most `maxEvents`
   * and `maxBytes` of envelopes but at least one; `undefined` when there are none. Records
   * them as published (`sent_through`) before the caller publishes, so a later drop of one
   * of them waits for the hub's word instead of being booked lost at once.
   */
  takeBatch(lane: Lane, after: number, maxEvents: number, maxBytes: number): OutboxBatch | undefined {
    return this.#takeTx(lane, after, maxEvents, maxBytes);
  }

  /**
   * Applies the hub's cumulative ack in one transaction: deletes the lane's events with
   * seq ≤ `hwm` and applies the answer about drops, if any. An ack for another epoch (an
   * older store of this device) is ignored.
   */
  applyAck(ack: Ack): AckOutcome {
    if (ack.epoch !== this.#epoch) return { deleted: 0 };
    return this.#ackTx(ack);
  }

  /**
   * Drops up to `maxRows` of the lane's events older than its TTL, in agent-clock time
   *; `undefined` when none is due or the lane has no TTL. Call again while it
   * returns a full chunk.
   */
  expire(lane: Lane, maxRows: number, at: number): DropEvent | undefined {
    if (this.#quotas[lane].ttlS <= 0) return undefined;
    return this.#expireTx(lane, maxRows, Math.trunc(at));
  }

  /** What the drain needs of every lane: one read. */
  laneStates(): Record<Lane, LaneState> {
    const out = {} as Record<Lane, LaneState>;
    for (const [lane, row] of this.#counters.all()) {
      const open = row.dropped_through > row.drop_confirmed_through;
      out[lane] = {
        lastSeq: row.next_seq - 1,
        pending: pendingOf(row),
        dropped: open ? { from: row.drop_confirmed_through + 1, through: row.dropped_through } : undefined,
      };
    }
    return out;
  }

  /** Counters of every lane. */
  counters(): Record<Lane, LaneCounters> {
    const rows = this.#counters.all();
    return Object.fromEntries(
      LANES.map((lane) => {
        const row = rows.get(lane);
        const counters: LaneCounters = {
          pending: row ? pendingOf(row) : 0,
          enqueued: row ? row.next_seq - 1 : 0,
          acked: row?.acked ?? 0,
          dropped: row?.dropped ?? 0,
          unconfirmed: row?.unconfirmed ?? 0,
          pendingBytes: row?.pending_bytes ?? 0,
        };
        return [lane, counters];
      }),
    ) as Record<Lane, LaneCounters>;
  }

  #enqueue(lane: Lane, type: string, at: number, bodyJson: string, max: number): [number, DropEvent?] {
    const c = this.#counters.get(lane);
    const seq = c.next_seq;
    const bytes = envelopeBytes(seq, type, at, bodyJson);
    const quota = this.#quotas[lane];
    if (bytes > max || bytes > quota.maxBytes) {
      const [limit, what] =
        bytes > max ? [max, 'the batch limit'] : [quota.maxBytes, `lane ${lane}'s maxBytes`];
      throw new OutpostError(
        'PROTO_PAYLOAD_TOO_LARGE',
        `event of ${bytes} bytes exceeds ${what} of ${limit} bytes`,
      );
    }
    const rows = pendingOf(c);
    let drop: DropEvent | undefined;
    if (rows + 1 > quota.maxRows || c.pending_bytes + bytes > quota.maxBytes) {
      const limits = { maxRows: quota.maxRows, maxBytes: quota.maxBytes };
      // Throws for back-pressure: the transaction rolls back, no seq is used.
      QUOTA_POLICIES[quota.policy]({ lane, limits, rows, bytes: c.pending_bytes, incomingBytes: bytes });
      const needRows = rows + 1 - quota.maxRows;
      const needBytes = c.pending_bytes + bytes - quota.maxBytes;
      drop = this.#dropper.dropForRoom(lane, needRows, needBytes, c.sent_through, at);
      applyDrop(c, drop);
    }
    this.#insert.run(lane, seq, type, at, bodyJson, bytes, this.#clock.now());
    c.next_seq = seq + 1;
    c.pending_bytes += bytes;
    this.#counters.save(lane, c);
    this.#clock.persistIfDue();
    return drop ? [seq, drop] : [seq];
  }

  #read(lane: Lane, after: number, maxEvents: number, maxBytes: number): OutboxBatch | undefined {
    const events: EventEnvelope[] = [];
    let bytes = 0;
    for (const row of this.#after.iterate(lane, after, Math.max(1, maxEvents))) {
      const last = events[events.length - 1];
      if (last && (row.seq !== last.seq + 1 || bytes + row.bytes > maxBytes)) break;
      events.push({ seq: row.seq, type: row.type, at: row.at, body: JSON.parse(row.body) as unknown });
      bytes += row.bytes;
    }
    return events.length > 0 ? { lane, events, bytes } : undefined;
  }

  #take(lane: Lane, after: number, maxEvents: number, maxBytes: number): OutboxBatch | undefined {
    const batch = this.#read(lane, after, maxEvents, maxBytes);
    const last = batch?.events[batch.events.length - 1]?.seq ?? 0;
    const c = this.#counters.get(lane);
    if (last > c.sent_through) {
      c.sent_through = last;
      this.#counters.save(lane, c);
    }
    return batch;
  }

  #ack(ack: Ack): AckOutcome {
    const c = this.#counters.get(ack.lane);
    const gone = this.#ackedSum.get(ack.lane, ack.hwm) ?? { n: 0, b: 0 };
    if (gone.n > 0) this.#deleteThrough.run(ack.lane, ack.hwm);
    c.acked += gone.n;
    c.pending_bytes -= gone.b;
    let resolved: ResolveOutcome | undefined;
    if (ack.dropped && ack.dropped.through > c.drop_confirmed_through) {
      resolved = this.ledger.resolve(ack.lane, ack.dropped);
      c.dropped += resolved.lost;
      c.acked += resolved.delivered;
      c.unconfirmed -= resolved.lost + resolved.delivered;
      c.drop_confirmed_through = ack.dropped.through;
    }
    if (gone.n > 0 || resolved) this.#counters.save(ack.lane, c);
    return resolved ? { deleted: gone.n, resolved } : { deleted: gone.n };
  }

  #expire(lane: Lane, maxRows: number, at: number): DropEvent | undefined {
    const cutoff = this.#clock.now() - this.#quotas[lane].ttlS * 1000;
    const c = this.#counters.get(lane);
    const drop = this.#dropper.dropExpired(lane, cutoff, maxRows, c.sent_through, at);
    if (!drop) return undefined;
    applyDrop(c, drop);
    this.#counters.save(lane, c);
    return drop;
  }
}
