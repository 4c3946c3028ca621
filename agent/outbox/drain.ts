import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { encodeMessage, type Lane, UplinkBatchSchema } from '../../shared/index.js';
import type { OutboxStore } from '../store/index.js';
import { Signal } from '../util/signal.js';

/** Settings and collaborators of the drain. */
export interface DrainOptions {
  outbox: OutboxStore;
  epoch: string;
  /** Most events per batch (config `outbox.batchMaxEvents`). */
  batchMaxEvents: number;
  /** Most envelope bytes per batch (config `outbox.batchMaxBytes`). */
  batchMaxBytes: number;
  /** Resend an unacknowledged batch after this long, ms (config `outbox.ackTimeoutMs`). */
  ackTimeoutMs: number;
  /** True while the link is up. */
  isConnected(): boolean;
  /** Publishes an encoded batch on `up` at QoS 1; false when the link is down. */
  publish(payload: Buffer): boolean;
  log: Logger;
}

type AckWait = 'acked' | 'timeout' | 'disconnected' | 'stopped';

interface InFlight {
  lane: Lane;
  first: number;
  settle(outcome: AckWait): void;
}

/** Pause after an unexpected error before trying again, ms (no busy loop on a broken store). */
const ERROR_PAUSE_MS = 1000;

/**
 * Drains the outbox to the hub (issue 2, DESIGN.md "Delivery contract"): one batch in
 * flight, from the highest-priority non-empty lane (`LANES` order), then waits for the
 * hub's ack for that lane — never for the broker's PUBACK — or resends after
 * `ackTimeoutMs`. Rows are deleted by the ack handler (`OutboxStore.ackUpTo`); the drain
 * simply reads the oldest rows again each time, so after a reconnect, a timeout or a
 * partial ack it resends exactly what is not acknowledged.
 */
export class OutboxDrain {
  readonly #o: DrainOptions;
  readonly #wake = new Signal();
  #inFlight: InFlight | undefined;
  #running: Promise<void> | undefined;
  #stopped = false;
  #batches = 0;

  constructor(options: DrainOptions) {
    this.#o = options;
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
   * The hub acknowledged `lane` up to `hwm`; rows are already deleted. Settles the batch in
   * flight when the ack covers at least its first event (an older ack, e.g. a late answer to
   * a batch already resent, does not trigger another resend).
   */
  onAck(lane: Lane, hwm: number): void {
    const inFlight = this.#inFlight;
    if (inFlight && inFlight.lane === lane && hwm >= inFlight.first) inFlight.settle('acked');
    this.#wake.notify();
  }

  /** The link went down: stop waiting for an ack that will not come on this connection. */
  onDisconnect(): void {
    this.#inFlight?.settle('disconnected');
  }

  /** Batches published so far (resends included). */
  get batchesSent(): number {
    return this.#batches;
  }

  /** Stops the loop and waits for it to end. Idempotent. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#inFlight?.settle('stopped');
    this.#wake.notify();
    await this.#running;
  }

  async #loop(): Promise<void> {
    while (!this.#stopped) {
      try {
        await this.#step();
      } catch (err) {
        if (this.#stopped) break;
        this.#o.log.error({ err }, 'outbox drain step failed; retrying');
        await this.#wake.wait(ERROR_PAUSE_MS);
      }
    }
  }

  async #step(): Promise<void> {
    if (!this.#o.isConnected()) {
      await this.#wake.wait();
      return;
    }
    const lane = this.#o.outbox.firstPendingLane();
    const batch = lane && this.#o.outbox.readBatch(lane, this.#o.batchMaxEvents, this.#o.batchMaxBytes);
    if (!batch) {
      await this.#wake.wait();
      return;
    }
    const first = batch.events[0]?.seq ?? 0;
    const last = batch.events[batch.events.length - 1]?.seq ?? 0;
    const batchId = `${first}-${last}-${randomBytes(6).toString('base64url')}`;
    const payload = encodeMessage(UplinkBatchSchema, {
      v: 1,
      epoch: this.#o.epoch,
      lane: batch.lane,
      batchId,
      events: batch.events,
    });
    // Register before publishing: an ack cannot slip in between.
    const acked = this.#awaitAck(batch.lane, first);
    if (!this.#o.publish(payload)) {
      this.#inFlight?.settle('disconnected');
      await acked;
      return;
    }
    this.#batches += 1;
    this.#o.log.debug({ lane: batch.lane, first, last, bytes: payload.byteLength, batchId }, 'batch sent');
    const outcome = await acked;
    if (outcome === 'timeout') {
      this.#o.log.warn(
        { lane: batch.lane, first, last, ackTimeoutMs: this.#o.ackTimeoutMs },
        'no ack from the hub in time; resending',
      );
    }
  }

  #awaitAck(lane: Lane, first: number): Promise<AckWait> {
    return new Promise<AckWait>((resolve) => {
      const timer = setTimeout(() => settle('timeout'), this.#o.ackTimeoutMs);
      const entry: InFlight = { lane, first, settle: (outcome) => settle(outcome) };
      const settle = (outcome: AckWait) => {
        clearTimeout(timer);
        if (this.#inFlight === entry) this.#inFlight = undefined;
        resolve(outcome);
      };
      this.#inFlight = entry;
    });
  }
}
