import type { FleetDevice } from './credentials.js';
import type { FleetLane } from './devices.js';

/**
 * What the bench process asks of a device shard: a child process that holds a share of the
 * simulated devices (their sockets, timers and reconnects), so that no process holds more
 * sockets than `ulimit -n` allows and the devices' own work spreads over the cores.
 */
export type ShardRequest =
  | {
      op: 'connect';
      /** Each device and the index, in `urls`, of the broker it starts on. */
      devices: Array<{ device: FleetDevice; index: number }>;
      urls: string[];
      qos: 0 | 1;
      /** Connections this shard opens at a time. */
      concurrency: number;
    }
  | { op: 'status' }
  | { op: 'send'; batches: number; perBatch: number; lane: FleetLane }
  | { op: 'markVictims'; url: string }
  | { op: 'converged'; killAt: number; waitMs: number }
  | { op: 'totals' }
  | { op: 'stop' };

/** A shard's devices right now. */
export interface ShardStatus {
  /** Devices whose first link is up. */
  connected: number;
  /** Of those: with their retained desired state received. */
  withDesired: number;
  /** Devices whose link is down at the moment, and why the last reconnect of one failed. */
  down: number;
  lastError?: string;
  /** Devices marked as on the killed node, those subscribed again, those with desired state again. */
  victims: number;
  victimsBack: number;
  victimsDone: number;
}

/** How a shard's devices of the killed node came back. */
export interface ShardConvergence {
  victims: number;
  reconnected: number;
  desired: number;
  /** Per reconnected victim: ms from the kill until it was subscribed again. */
  times: number[];
  /** Reconnects of every device of the shard. */
  reconnects: number;
}

/** The reply to each request. */
export interface ShardReplies {
  connect: { retried: number };
  status: ShardStatus;
  send: { latencies: number[] };
  markVictims: { victims: number };
  converged: ShardConvergence;
  totals: { ids: string[]; resent: number; sentBytes: number };
  stop: Record<string, never>;
}

/** Parent → shard: one request. */
export interface ShardCall {
  id: number;
  request: ShardRequest;
}

/** Shard → parent: the answer to call `id`. */
export type ShardAnswer = { id: number; ok: true; reply: unknown } | { id: number; ok: false; error: string };

/**
 * Shard → parent, unasked, as soon as batches are acked (those of one turn of the event loop
 * together): the bench kills a node the moment half of all batches are acked.
 */
export interface ShardAcks {
  acked: number;
}

/** Wall-clock time in ms with sub-ms precision, comparable between processes of one machine. */
export const epochNow = (): number => performance.timeOrigin + performance.now();
