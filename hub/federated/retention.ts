import type { Logger } from 'pino';
import type { FlPruned } from '../store/federated-retention-types.js';
import type { FlTaskRecord } from '../store/federated-types.js';
import type { HubStore } from '../store/types.js';
import type { FlRetentionConfig } from './config.js';
import type { FlTaskSpec } from './task-spec.js';

/** Above every round: "all of them". */
const ALL_ROUNDS = 2_147_483_647;

/** What one task's prune keeps, as bounds for the store's prune statements. */
export interface RetentionPlan {
  chunks: { deadBefore: number; incompleteBefore: number };
  weights: { before: number; keep: number[] };
}

/**
 * The retention rule of one task. Update chunks: those of decided updates always go (the
 * store's prune); besides, a sync task's rounds before the current one are over (late updates
 * are refused), an async task takes no part of a version more than `maxStaleness` behind (its
 * incomplete updates go; a complete one is folded at the next close, then goes), and a task
 * that ended needs none. Global weights of round `r` are the model rounds before `r`
 * produced and `r` starts from: the latest `keepRounds` of them stay (the current round's
 * among them), with the best round's model (round `best.round + 1`, the one the closed loop
 * registers) and every round some device's desired state still references (its global
 * artifact is written again from these bytes when a replica lacks it). The store never
 * deletes anything of a round that is open.
 */
export function retentionPlan(
  task: FlTaskRecord,
  keepRounds: number,
  referenced: readonly number[] = [],
): RetentionPlan {
  const spec = task.spec as Partial<FlTaskSpec>;
  const ended = task.status !== 'running';
  const staleness = spec.maxStaleness ?? 0;
  const chunks = ended
    ? { deadBefore: ALL_ROUNDS, incompleteBefore: ALL_ROUNDS }
    : spec.mode === 'async'
      ? { deadBefore: 0, incompleteBefore: task.round - staleness }
      : { deadBefore: task.round, incompleteBefore: task.round };
  const keep = [task.round, ...referenced];
  if (task.best !== null) keep.push(task.best.round + 1);
  return { chunks, weights: { before: task.round - Math.max(1, keepRounds) + 1, keep } };
}

/** What a prune pass deleted. */
export interface FlPruneReport {
  tasks: number;
  chunks: FlPruned;
  weights: FlPruned;
}

/** What {@link FlRetention} needs. */
export interface FlRetentionDeps {
  store: Pick<HubStore, 'getFlTask' | 'listFlTasks' | 'listDesired' | 'pruneFlChunks' | 'pruneFlWeights'>;
  log: Logger;
  config: FlRetentionConfig;
}

const add = (a: FlPruned, b: FlPruned): FlPruned => ({ rows: a.rows + b.rows, bytes: a.bytes + b.bytes });
const none = (): FlPruned => ({ rows: 0, bytes: 0 });

/**
 * Bounded disk for federated learning: after a round closes (and on a task's stop) that
 * task is pruned, and when a hub starts driving the rounds (its start, or taking the
 * `federated` lease over) every task is, so data a hub of an earlier release kept goes too.
 * Passes run in the background, one at a time, each as batches of at most `batchRows` rows;
 * requests made during a pass are merged into the next. Deletes are idempotent: two replicas
 * pruning at once delete each row once.
 */
export class FlRetention {
  readonly #d: FlRetentionDeps;
  readonly #tasks = new Set<string>();
  #everyTask = false;
  #run: Promise<void> | undefined;
  #closed = false;

  constructor(deps: FlRetentionDeps) {
    this.#d = deps;
  }

  /** Asks for a pass over `taskId`, or over every task when absent; returns at once. */
  request(taskId?: string): void {
    if (this.#closed) return;
    if (taskId === undefined) this.#everyTask = true;
    else this.#tasks.add(taskId);
    this.#run ??= this.#drain().finally(() => {
      this.#run = undefined;
    });
  }

  /** Resolves once no pass runs and none is asked for. */
  async idle(): Promise<void> {
    while (this.#run) await this.#run;
  }

  /** Stops taking requests and waits for the pass in progress (its current batch ends it). */
  async close(): Promise<void> {
    this.#closed = true;
    await this.idle();
  }

  /** Prunes every task now. */
  async pruneAll(): Promise<FlPruneReport> {
    const tasks = await this.#d.store.listFlTasks();
    return this.#prune(tasks);
  }

  /** Prunes one task now (nothing when it does not exist). */
  async pruneTask(taskId: string): Promise<FlPruneReport> {
    const task = await this.#d.store.getFlTask(taskId);
    return this.#prune(task === undefined ? [] : [task]);
  }

  async #drain(): Promise<void> {
    while (!this.#closed && (this.#everyTask || this.#tasks.size > 0)) {
      const everyTask = this.#everyTask;
      const ids = [...this.#tasks];
      this.#everyTask = false;
      this.#tasks.clear();
      try {
        if (everyTask) await this.pruneAll();
        else for (const id of ids) await this.pruneTask(id);
      } catch (err) {
        // The next round close (or the next start) asks again; nothing is lost by waiting.
        this.#d.log.warn({ err }, 'federated retention pass failed; retried after the next round');
      }
    }
  }

  async #prune(tasks: readonly FlTaskRecord[]): Promise<FlPruneReport> {
    const { store, log, config } = this.#d;
    const referenced = new Map<string, number[]>();
    for (const d of await store.listDesired()) {
      const t = d.desired.federated?.task;
      if (t !== undefined) referenced.set(t.id, [...(referenced.get(t.id) ?? []), t.round]);
    }
    const total: FlPruneReport = { tasks: 0, chunks: none(), weights: none() };
    for (const task of tasks) {
      if (this.#closed) break;
      const plan = retentionPlan(task, config.keepRounds, referenced.get(task.id));
      const limit = config.batchRows;
      const chunks = config.keepUpdateBytes
        ? none()
        : await this.#batches(() => store.pruneFlChunks(task.id, { ...plan.chunks, limit }));
      const weights = await this.#batches(() => store.pruneFlWeights(task.id, { ...plan.weights, limit }));
      if (chunks.rows + weights.rows > 0) {
        log.info(
          { task: task.id, chunks, weights },
          'federated retention: old update bytes and weights deleted',
        );
      }
      total.tasks += 1;
      total.chunks = add(total.chunks, chunks);
      total.weights = add(total.weights, weights);
    }
    return total;
  }

  /** Runs `batch` until one deletes fewer than `batchRows` rows (or the hub closes); the sum. */
  async #batches(batch: () => Promise<FlPruned>): Promise<FlPruned> {
    let sum = none();
    for (;;) {
      const r = await batch();
      sum = add(sum, r);
      if (r.rows < this.#d.config.batchRows || this.#closed) return sum;
    }
  }
}
