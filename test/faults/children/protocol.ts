import type { Lane } from '../../../shared/index.js';

/**
 * IPC between the fault suite and its agent child process (`agent-child.ts`). The child
 * runs a real agent (`createAgent`) on a store that outlives it; the suite kills it with
 * SIGKILL at random points and reads its SQLite file afterwards.
 */

/** Asks the child to enqueue `count` events, one per turn of its event loop. */
export interface EnqueueCommand {
  op: 'enqueue';
  /** Echoed in progress messages. */
  tag: string;
  count: number;
  /** Lanes the events go to, picked per event with the PRNG of `seed`. */
  lanes: Lane[];
  seed: number;
  /** Ordinal of the first event: order keys increase across a store's whole life. */
  firstOrdinal: number;
  /** Extra body bytes per event (a `pad` string). */
  padBytes: number;
  /** After every `paceEvery` events wait `paceMs` ms (0: never). */
  paceEvery: number;
  paceMs: number;
}

/** Parent → child. */
export type ChildCommand =
  /** The agent config (an `AgentConfigInput`); sent once, to a warm child. */
  | { op: 'start'; config: unknown }
  | EnqueueCommand
  /**
   * Moves the agent's time sources (clock jumps): the wall clock to `wallOffsetMs`
   * from the real one (either way), the monotonic source `monoAdvanceMs` further ahead (≥ 0:
   * a monotonic source never goes back).
   */
  | { op: 'clock'; wallOffsetMs: number; monoAdvanceMs: number }
  | { op: 'status'; id: number }
  | { op: 'close' };

/** The type of every event the child enqueues (the agent's own reports have others). */
export const WORKLOAD_EVENT_TYPE = 'fault.event';

/** The body of every event the child enqueues. `uid` is unique across the whole run. */
export interface FaultEventBody {
  uid: string;
  /** Enqueue order within the store. */
  o: number;
  pad?: string;
}

/** Child → parent. */
export type ChildMessage =
  /** Modules loaded; waiting for `start`. */
  | { type: 'warm'; pid: number }
  /** The agent runs (its API listens; the link is connecting). */
  | { type: 'ready'; pid: number; epoch: string }
  /** One event durably enqueued: uid, lane, seq. */
  | { type: 'enqueued'; tag: string; uid: string; lane: Lane; seq: number }
  /** One event refused by the agent (e.g. a full lane under back-pressure): not stored. */
  | { type: 'refused'; tag: string; uid: string; lane: Lane; code: string }
  | { type: 'enqueue-done'; tag: string }
  | { type: 'status'; id: number; status: unknown }
  /** The clock offsets now in force. */
  | { type: 'clock'; wallOffsetMs: number; monoOffsetMs: number }
  | { type: 'fatal'; message: string };
