import type { Logger } from 'pino';
import type { Ack } from '../../shared/index.js';
import type { AgentConfig } from '../config.js';
import type { AckOutcome, AgentStore, DropEvent } from '../store/index.js';
import type { Enqueued } from '../types.js';
import { Coalesced } from '../util/debounce.js';
import { DiskHeadroom, type DiskSpace, isDiskFull } from './disk-headroom.js';
import { OutboxDrain } from './drain.js';
import { DropLog } from './drop-log.js';
import type { ParsedEvent } from './event-input.js';
import { ExpirySweeper } from './expiry.js';

/** Delay before the reported state follows a change of the loss ledger, ms (bursts coalesce). */
export const LEDGER_REPORT_DELAY_MS = 1000;

/** Collaborators of the {@link AgentOutbox}. */
export interface AgentOutboxOptions {
  store: AgentStore;
  /** The data dir (whose filesystem the disk headroom watches). */
  dataDir: string;
  config: AgentConfig['outbox'];
  /** Device wall clock, ms (event `at`, ledger times). */
  wallNow: () => number;
  /** True while the link is up. */
  isConnected(): boolean;
  /** Publishes an encoded batch on `up` at QoS 1; false when the link is down. */
  publish(payload: Buffer): boolean;
  /** `{ pv }` once the hub reads it (agent/link/hub-version.ts). */
  stamp?: () => { pv?: string };
  /** The loss ledger changed: publish the reported state (called coalesced). */
  onLedgerChange(): void;
  /** Observer of every applied ack (tests, benchmarks). */
  onAck?: ((ack: Ack, outcome: AckOutcome) => void) | undefined;
  log: Logger;
}

/**
 * The agent's outbox at run time: enqueue under quotas, the windowed drain, the
 * TTL sweep, acks and the hub's answers about drops, drop logging, and a prompt report of
 * the loss ledger to the hub. One object, so the agent wires a single thing.
 */
export class AgentOutbox {
  readonly drain: OutboxDrain;
  readonly #o: AgentOutboxOptions;
  readonly #headroom: DiskHeadroom;
  readonly #expiry: ExpirySweeper;
  readonly #drops: DropLog;
  readonly #report: Coalesced;
  #foreignEpochLogged = false;

  /** The data dir's free space, as `status()` shows it. */
  disk(): DiskSpace {
    return this.#headroom.space();
  }

  constructor(options: AgentOutboxOptions) {
    this.#headroom = new DiskHeadroom({
      dataDir: options.dataDir,
      reserveBytes: options.config.diskReserveBytes,
      db: options.store.db,
    });
    this.#o = options;
    const { store, config } = options;
    this.#drops = new DropLog(options.log);
    this.#report = new Coalesced(() => options.onLedgerChange(), LEDGER_REPORT_DELAY_MS);
    this.drain = new OutboxDrain({
      ...config,
      outbox: store.outbox,
      epoch: store.epoch,
      isConnected: options.isConnected,
      publish: options.publish,
      log: options.log,
      ...(options.stamp ? { stamp: options.stamp } : {}),
    });
    this.#expiry = new ExpirySweeper({
      outbox: store.outbox,
      clock: store.clock,
      intervalMs: config.expirySweepMs,
      wallNow: options.wallNow,
      onDrop: (drop) => this.#dropped(drop),
      log: options.log,
    });
  }

  /** Stores a validated event (durable on return) and wakes the drain. */
  enqueue(event: ParsedEvent): Enqueued {
    this.#headroom.check();
    let enqueued: ReturnType<AgentStore['outbox']['enqueueWithDrop']>;
    try {
      enqueued = this.#o.store.outbox.enqueueWithDrop(
        event.lane,
        event.type,
        event.bodyJson,
        this.#o.wallNow(),
        this.#o.config.batchMaxBytes,
      );
    } catch (err) {
      if (isDiskFull(err)) throw this.#headroom.full();
      throw err;
    }
    const [seq, drop] = enqueued;
    if (drop) this.#dropped(drop);
    this.drain.wake();
    return { lane: event.lane, seq };
  }

  /** Applies an ack of the hub (deletes, drop answer) and lets the drain go on. Never throws. */
  onAck(ack: Ack): void {
    const { store, log } = this.#o;
    if (ack.epoch !== store.epoch) {
      if (!this.#foreignEpochLogged) log.warn({ epoch: ack.epoch }, 'ack for another store epoch ignored');
      this.#foreignEpochLogged = true;
      return;
    }
    const outcome = store.outbox.applyAck(ack);
    log.debug({ lane: ack.lane, hwm: ack.hwm, deleted: outcome.deleted }, 'ack applied');
    const resolved = outcome.resolved;
    if (resolved) {
      if (resolved.lost + resolved.delivered > 0) this.#report.trigger();
      const expected = resolved.certainInRange + resolved.lost;
      if (resolved.skippedByHub !== expected) {
        // Only a lost write can do this (crash-safe mode and a power cut): say so loudly.
        log.error(
          { lane: ack.lane, answer: ack.dropped, ...resolved },
          'the hub and the loss ledger disagree about dropped events',
        );
      }
    }
    this.drain.onAck(ack);
    this.#o.onAck?.(ack, outcome);
  }

  /** The link is up. */
  onConnect(): void {
    this.drain.wake();
  }

  /** The link went down. */
  onDisconnect(): void {
    this.drain.onDisconnect();
  }

  /** Starts the drain and the TTL sweep. */
  start(): void {
    this.drain.start();
    this.#expiry.start();
  }

  /** Stops both and logs the drops not logged yet. */
  async stop(): Promise<void> {
    this.#expiry.stop();
    this.#report.cancel();
    await this.drain.stop();
    this.#drops.flush();
  }

  #dropped(drop: DropEvent): void {
    this.#drops.record(drop);
    this.#report.trigger();
  }
}
