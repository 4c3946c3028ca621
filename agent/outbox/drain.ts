import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { type Ack, encodeMessage, LANES, type Lane, UplinkBatchSchema } from '../../shared/index.js';
import type { LaneState, OutboxStore } from '../store/index.js';
import { Signal } from '../util/signal.js';
import { ackWaitMs } from './ack-backoff.js';
import { type LaneWeights, WeightedRoundRobin } from './scheduler.js';

/** Settings and collaborators of the drain. */
export interface DrainOptions {
  outbox: OutboxStore;
  epoch: string;
  /** Most events per batch (config `outbox.batchMaxEvents`). */
  batchMaxEvents: number;
  /** Most envelope bytes per batch (config `outbox.batchMaxBytes`). */
  batchMaxBytes: number;
  /**
   * Base of the ack timeout, ms: a batch not acked in time has its lane resent from the oldest
   * unacknowledged event; consecutive timeouts of a lane back off (agent/outbox/ack-backoff.ts).
   */
  ackTimeoutMs: number;
  /** Most batches published and not yet acknowledged, all lanes together (config `outbox.window`). */
  window: number;
  /** Round-robin weight per lane (config `outbox.weights`). */
  weights: LaneWeights;
  /** True while the link is up. */
  isConnected(): boolean;
  /** Publishes an encoded batch on `up` at QoS 1; false when the link is down. */
  publish(payload: Buffer): boolean;
  log: Logger;
  /** `{ pv }` once the hub reads it (agent/link/hub-version.ts). */
  stamp?: () => { pv?: string };
  /** Uniform numbers in [0, 1) for the ack timeout's jitter; `Math.random` by default (tests fix it). */
  random?: () => number;
}

interface InFlight {
  batchId: string;
  lane: Lane;
  /** Last event's seq; undefined for a batch that only reports a drop. */
  last: number | undefined;
  /** `dropped.through` the batch carried, if any. */
  dropThrough: number | undefined;
  /** How long it waits for its ack, ms. */
  waitMs: number;
  timer: NodeJS.Timeout;
}

/** Pause after an unexpected error before trying again, ms (no busy loop on a broken store). */
const ERROR_PAUSE_MS = 1000;

const nextTick = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * Drains the outbox to the hub (docs/architecture.md "Delivery contract"):
 * - up to `window` batches in flight, across lanes and within one; each batch holds many
 *   consecutive events of one lane, bounded by count and bytes;
 * - the next lane is chosen by weighted round robin among lanes with something to send, so
 *   a backlog never starves live `control`/`results` traffic and no lane starves at all;
 * - rows leave only on the hub's ack (cumulative per lane, applied by the ack handler);
 *   per-lane order holds because the hub refuses gaps: an ack that stops short of its
 *   batch, an ack timeout or a reconnect rewinds the lane to its oldest unacknowledged event
 *   and resends from there (the hub ignores what it already has);
 * - consecutive ack timeouts of a lane double its next wait, up to a cap, with jitter, until
 *   an ack settles one of its batches (agent/outbox/ack-backoff.ts: an overloaded hub is not
 *   flooded with resends);
 * - while the lane has drops the hub has not answered, every batch carries `dropped`
 *   (a batch with no event when nothing else is pending), so a drop never blocks the lane.
 */
export class OutboxDrain {
  readonly #o: DrainOptions;
  readonly #wake = new Signal();
  readonly #rr: WeightedRoundRobin;
  readonly #inFlight = new Map<string, InFlight>();
  /** Per lane: highest seq published since the last rewind (0: start from the oldest). */
  readonly #cursor = new Map<Lane, number>();
  /**
   * Per lane: ack timeouts in a row, which set how long its next batches wait (see
   * {@link ackWaitMs}). Only an ack that settles a batch of the lane resets it; a reconnect
   * does not, since an overloaded hub may drop connections too, and a fleet that came back
   * with short timeouts would flood it again.
   */
  readonly #timeouts = new Map<Lane, number>();
  #running: Promise<void> | undefined;
  #stopped = false;
  #batches = 0;
  #rewinds = 0;

  constructor(options: DrainOptions) {
    if (!(options.window >= 1)) throw new RangeError(`window must be ≥ 1, got ${options.window}`);
    this.#o = options;
    this.#rr = new WeightedRoundRobin(options.weights);
  }

  /** Starts the loop (once). */
  start(): void {
    this.#running ??= this.#loop();
  }

  /** Something may be sendable now (an enqueue, a connect). */
  wake(): void {
    this.#wake.notify();
  }

  /**
   * The hub acknowledged (rows already deleted, drop answer applied). Settles the batch the
   * ack answers and every batch of the lane it covers; an ack that stops short of its own
   * batch means the hub stored nothing past a gap, so the lane is resent from the gap.
   */
  onAck(ack: Ack): void {
    const own = ack.batchId === undefined ? undefined : this.#inFlight.get(ack.batchId);
    if (own) {
      this.#settle(own);
      this.#timeouts.delete(own.lane);
      if (own.last !== undefined && ack.hwm < own.last) {
        this.#rewind(own.lane, `the hub stored nothing past seq ${ack.hwm}`, 'debug');
      }
    }
    for (const entry of [...this.#inFlight.values()]) {
      if (entry.lane === ack.lane && entry.last !== undefined && entry.last <= ack.hwm) {
        this.#settle(entry);
        this.#timeouts.delete(entry.lane);
      }
    }
    this.#wake.notify();
  }

  /** The link went down: nothing in flight will be acked on this connection. */
  onDisconnect(): void {
    for (const entry of this.#inFlight.values()) clearTimeout(entry.timer);
    this.#inFlight.clear();
    this.#cursor.clear();
  }

  /** Batches published so far (resends included). */
  get batchesSent(): number {
    return this.#batches;
  }

  /** Batches published and not yet acknowledged. */
  get inFlight(): number {
    return this.#inFlight.size;
  }

  /** Times a lane was resent from its oldest unacknowledged event (timeouts, gaps). */
  get rewinds(): number {
    return this.#rewinds;
  }

  /** Stops the loop and waits for it to end. Idempotent. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.onDisconnect();
    this.#wake.notify();
    await this.#running;
  }

  async #loop(): Promise<void> {
    while (!this.#stopped) {
      try {
        if (!this.#o.isConnected() || this.#inFlight.size >= this.#o.window || !this.#sendOne()) {
          await this.#wake.wait();
          continue;
        }
        await nextTick(); // let acks and API requests in between batches
      } catch (err) {
        if (this.#stopped) break;
        this.#o.log.error({ err }, 'outbox drain step failed; retrying');
        await this.#wake.wait(ERROR_PAUSE_MS);
      }
    }
  }

  /** Publishes one batch of the lane the round robin picks; false when nothing can be sent. */
  #sendOne(): boolean {
    const states = this.#o.outbox.laneStates();
    const lane = this.#rr.pick(LANES.filter((l) => this.#hasWork(l, states[l])));
    if (lane === undefined) return false;
    const dropped = states[lane]?.dropped;
    const cursor = this.#cursor.get(lane) ?? 0;
    const batch = this.#o.outbox.takeBatch(lane, cursor, this.#o.batchMaxEvents, this.#o.batchMaxBytes);
    if (!batch && !dropped) {
      this.#cursor.set(lane, states[lane]?.lastSeq ?? cursor);
      return true;
    }
    const events = batch?.events ?? [];
    const first = events[0]?.seq;
    const last = events[events.length - 1]?.seq;
    const batchId = `${lane}-${first ?? 'd'}-${last ?? dropped?.through}-${randomBytes(6).toString('base64url')}`;
    const payload = encodeMessage(UplinkBatchSchema, {
      v: 1,
      ...this.#o.stamp?.(),
      epoch: this.#o.epoch,
      lane,
      batchId,
      events,
      ...(dropped ? { dropped } : {}),
    });
    if (!this.#o.publish(payload)) return false;
    const waitMs = ackWaitMs(this.#timeouts.get(lane) ?? 0, this.#o.ackTimeoutMs, this.#o.random);
    const timer = setTimeout(() => this.#timedOut(batchId), waitMs);
    this.#inFlight.set(batchId, { batchId, lane, last, dropThrough: dropped?.through, waitMs, timer });
    if (last !== undefined) this.#cursor.set(lane, last);
    this.#batches += 1;
    this.#o.log.debug({ lane, first, last, dropped, bytes: payload.byteLength, batchId }, 'batch sent');
    return true;
  }

  /** Unsent events beyond the lane's cursor, or drops the hub was not asked about in flight. */
  #hasWork(lane: Lane, state: LaneState | undefined): boolean {
    if (!state) return false;
    if (state.pending > 0 && state.lastSeq > (this.#cursor.get(lane) ?? 0)) return true;
    if (!state.dropped) return false;
    const asked = [...this.#inFlight.values()].some(
      (e) => e.lane === lane && (e.dropThrough ?? 0) >= (state.dropped?.through ?? 0),
    );
    return !asked;
  }

  #timedOut(batchId: string): void {
    const entry = this.#inFlight.get(batchId);
    if (!entry) return;
    const timeouts = (this.#timeouts.get(entry.lane) ?? 0) + 1;
    this.#timeouts.set(entry.lane, timeouts);
    this.#rewind(entry.lane, `no ack within ${entry.waitMs} ms (${timeouts} in a row)`, 'warn');
  }

  /** Forgets the lane's batches in flight and resends it from its oldest pending event. */
  #rewind(lane: Lane, why: string, level: 'warn' | 'debug'): void {
    for (const entry of [...this.#inFlight.values()]) if (entry.lane === lane) this.#settle(entry);
    this.#cursor.set(lane, 0);
    this.#rewinds += 1;
    this.#o.log[level]({ lane, why }, 'resending the lane from its oldest unacknowledged event');
    this.#wake.notify();
  }

  #settle(entry: InFlight): void {
    clearTimeout(entry.timer);
    this.#inFlight.delete(entry.batchId);
  }
}
