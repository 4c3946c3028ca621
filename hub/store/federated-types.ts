/**
 * Storage of federated tasks and rounds, implemented by every hub store
 * backend; `HubStore` extends it. Weights are the update codec's bytes (compression `none`).
 * Times are hub wall-clock milliseconds.
 */

/** Lifecycle of a task. */
export type FlTaskStatus = 'running' | 'done' | 'stopped' | 'failed';

/** One federated task: its spec (as the admin API validated it) and where it stands. */
export interface FlTaskRecord {
  id: string;
  /** The validated task spec (`hub/federated/task-spec.ts`). */
  spec: Record<string, unknown>;
  status: FlTaskStatus;
  /** The round in progress (sync) or the current global model version (async), from 1. */
  round: number;
  /** Serialised server-optimizer state (FedAdam/FedYogi) or null. */
  serverState: string | null;
  /**
   * Best hub evaluation so far: the round whose model scored it, the accuracy and, when the
   * closed loop registered it, the model version; or null.
   */
  best: { round: number; accuracy: number; version?: string } | null;
  /** Why the task failed or stopped, or null. */
  reason: string | null;
  createdAt: number;
  updatedAt: number;
}

/** Lifecycle of a round. */
export type FlRoundStatus = 'open' | 'closed' | 'failed';

/** One round of a task. */
export interface FlRoundRecord {
  taskId: string;
  round: number;
  status: FlRoundStatus;
  /** Devices the round was published to. */
  selected: string[];
  openedAt: number;
  /** Hub time after which a sync round may close with the updates it has. */
  deadline: number;
  closedAt: number | null;
  /**
   * What the round produced: accepted and rejected updates (reasons counted), late updates,
   * dropouts, federated evaluation, hub evaluation, privacy spent; free-form JSON.
   */
  metrics: Record<string, unknown>;
}

/**
 * One piece of a device's update, as received. An update sent as `fl.update.chunk` events is
 * held as those chunks. An uploaded one (`fl.update.upload` + `PATCH
 * /v1/federated/uploads/…`) is held as chunk 0 = its event (no bytes; the training figures in
 * `meta`) and chunks 1..n = the upload's parts (`FL_UPLOAD_PART_BYTES` each), all with
 * `total` n + 1 and `digest` the whole's SHA-256: it is complete, like any update, when every
 * chunk is held, and reassembling it checks the SHA-256 (hub/federated/uploads.ts).
 */
export interface FlChunkRecord {
  taskId: string;
  round: number;
  deviceId: string;
  index: number;
  total: number;
  digest: string;
  bytes: Uint8Array;
  /** Training figures the device sent with it (examples, norm, loss, accuracy). */
  meta: Record<string, unknown>;
  /** Hub time it was stored. */
  at: number;
}

/** A held chunk without its bytes. */
export interface FlChunkHead {
  index: number;
  total: number;
  digest: string;
  /** Bytes the chunk holds. */
  size: number;
}

/** An update some (or all) of whose chunks arrived, not decided yet. */
export interface FlPendingUpdate {
  round: number;
  deviceId: string;
  chunks: number;
  total: number;
  /** Hub time its first chunk was stored. */
  firstAt: number;
}

/** What became of one device's update for `(task, round)`: one row per key, ever. */
export interface FlUpdateRecord {
  taskId: string;
  round: number;
  deviceId: string;
  status: 'accepted' | 'rejected' | 'late';
  /** Why rejected or late; null when accepted. */
  reason: string | null;
  /** The round it was folded into (async: a later one than `round`), or null. */
  appliedIn: number | null;
  at: number;
}

/** One device's federated evaluation of a round's global model. */
export interface FlEvalRecord {
  taskId: string;
  round: number;
  deviceId: string;
  examples: number;
  loss: number;
  accuracy: number;
}

/** The federated part of the hub's store. */
export interface FederatedStore {
  /** Creates a task with its round-1 weights. Throws `FL_BAD_PARAMS` when the id is taken. */
  createFlTask(task: FlTaskRecord, weights: Uint8Array): Promise<void>;
  getFlTask(id: string): Promise<FlTaskRecord | undefined>;
  /** Every task, newest first. */
  listFlTasks(): Promise<FlTaskRecord[]>;
  /** Changes status, reason, round, state or best of a task (and `updatedAt`). */
  updateFlTask(id: string, patch: Partial<Omit<FlTaskRecord, 'id' | 'spec' | 'createdAt'>>): Promise<void>;
  /** The global weights a round starts from (round 1: the initial ones). */
  getFlWeights(taskId: string, round: number): Promise<Uint8Array | undefined>;
  /** Opens a round (its row; the weights must already be stored). Ignored when it exists. */
  openFlRound(round: FlRoundRecord): Promise<void>;
  getFlRound(taskId: string, round: number): Promise<FlRoundRecord | undefined>;
  listFlRounds(taskId: string): Promise<FlRoundRecord[]>;
  /**
   * Closes a round in ONE transaction: its status and metrics, the outcome of every update
   * it considered, the next round's weights (when given) and the task's new state. Only an
   * `open` round closes: false (and nothing written) when it is closed already — a replica
   * that lost its lease while paused must not close a round twice.
   */
  closeFlRound(close: {
    taskId: string;
    round: number;
    status: 'closed' | 'failed';
    closedAt: number;
    metrics: Record<string, unknown>;
    updates: FlUpdateRecord[];
    next?: { round: number; weights: Uint8Array } | undefined;
    task: Partial<Omit<FlTaskRecord, 'id' | 'spec' | 'createdAt'>>;
  }): Promise<boolean>;
  /** Stores a chunk (a duplicate is ignored); returns how many chunks of that update are held. */
  putFlChunk(chunk: FlChunkRecord): Promise<number>;
  /** The chunks of one device's update, by index. */
  getFlChunks(taskId: string, round: number, deviceId: string): Promise<FlChunkRecord[]>;
  /** The chunks of one device's update without their bytes (`size`: their byte length), by index. */
  getFlChunkHeads(taskId: string, round: number, deviceId: string): Promise<FlChunkHead[]>;
  /** Removes the chunks of one device's update from index `fromIndex` on; returns how many. */
  dropFlChunks(taskId: string, round: number, deviceId: string, fromIndex: number): Promise<number>;
  /**
   * Updates received but not decided yet (no update outcome recorded), of one round or of
   * every round (async), oldest first: how many of their chunks are held.
   */
  listFlPending(taskId: string, round?: number): Promise<FlPendingUpdate[]>;
  /** Records an update's outcome outside a round close (e.g. late); false when the key exists. */
  putFlUpdate(update: FlUpdateRecord): Promise<boolean>;
  /** Outcomes of the updates for `(task, round)`, or of every round when `round` is absent. */
  listFlUpdates(taskId: string, round?: number): Promise<FlUpdateRecord[]>;
  /** Stores a federated evaluation (a duplicate is ignored). */
  putFlEval(evaluation: FlEvalRecord): Promise<void>;
  listFlEvals(taskId: string, round: number): Promise<FlEvalRecord[]>;
}
