import type { Logger } from 'pino';
import { decodeUpdate, type ModelWeights } from '../../federated/index.js';
import { OutpostError } from '../../shared/index.js';
import type { DesiredService } from '../desired/desired-service.js';
import type { FlRoundRecord, FlTaskRecord } from '../store/federated-types.js';
import type { HubStore } from '../store/types.js';
import type { RoundAggregate } from './aggregate-round.js';
import type { ClosedLoopHook } from './closed-loop-run.js';
import type { HubEvaluator } from './hub-eval.js';
import type { EmbeddedModel } from './registry-model.js';
import type { FlRetention } from './retention.js';
import {
  closeRound,
  failRound,
  finishRound,
  type RoundEndDeps,
  roundWeights,
  shapesOf,
} from './round-close.js';
import { openRound } from './round-open.js';
import { SecureRounds } from './secagg-persistence.js';
import { stepSecure } from './secagg-step.js';
import { withoutTask } from './sections.js';
import { resolveTaskSpec } from './task-create.js';
import type { FlTaskSpec } from './task-spec.js';
import type { FlWeightsArtifacts } from './weights-artifacts.js';

export type { ClosedLoopHook } from './closed-loop-run.js';
export type { HubEvaluator } from './hub-eval.js';
export { WAITING_FOR_DEVICES } from './round-open.js';

/** Collaborators of the {@link FlRoundRunner}. */
export interface FlRoundRunnerDeps {
  store: HubStore;
  desired: DesiredService;
  log: Logger;
  now: () => number;
  /** How often running tasks are looked at, ms (default 250). */
  tickMs?: number;
  evaluate?: HubEvaluator;
  closedLoop?: ClosedLoopHook;
  /** Global weights as artifacts (with the registry); absent: every task embeds its weights. */
  weights?: FlWeightsArtifacts;
  /** Retention of old rounds' bytes: asked for a pass whenever a round ends or a task stops. */
  retention?: FlRetention;
  /** Reads a registered version as a starting model (tasks that embed none). */
  loadModel?: (name: string, version: string) => Promise<EmbeddedModel>;
  /**
   * Whether this replica drives the rounds now (the `federated` lease, so one
   * replica among several opens, closes and aggregates rounds); asked before every tick.
   * Default: always (a single hub).
   */
  shouldDrive?: () => Promise<boolean>;
  /**
   * Runs when this replica starts driving (on start, and whenever it takes the lease over),
   * before its first tick as the driver: re-files learning events a replica that died may
   * have stored and acked without filing.
   */
  onDrive?: () => Promise<void>;
}

/**
 * The hub's federated round runner. Every task's state lives in the store,
 * so a restarted hub resumes each running task where it was: an open round keeps its
 * selection and deadline, the updates already received count, and the next tick closes it.
 * It decides when; opening a round is `openRound` (round-open.ts: selection, the task in each
 * device's desired state, the global artifact), closing and failing one `closeRound`,
 * `finishRound` and `failRound` (round-close.ts: aggregation, evaluation, closed loop).
 *
 * - **sync**: select clients (online, matching the selector; fraction or count, ≥
 *   minClients — else wait), publish the task in their desired state, then close the round
 *   once every selected device's update is complete, or once the deadline passed with at
 *   least `minClients` complete; `graceS` after the deadline, a round still short is failed
 *   and the next starts from the same weights (3 failed rounds in a row fail the task).
 *   Late updates: see `FlIngest`.
 * - **async (FedBuff)**: version `v` is published to the selected devices; every `bufferK`
 *   complete updates (of any version within `maxStaleness`) are aggregated with staleness
 *   weighting into `v + 1`, which is published in turn.
 */
export class FlRoundRunner {
  readonly #d: FlRoundRunnerDeps;
  #timer: NodeJS.Timeout | undefined;
  #busy: Promise<void> | undefined;
  #again = false;
  #closed = false;
  #driving = false;
  /** Secure rounds, kept in the store at every step (a restart or a new driver resumes them). */
  readonly #secure: SecureRounds;

  /** What the round's close and fail paths need (hub/federated/round-close.ts). */
  readonly #end: RoundEndDeps;

  constructor(deps: FlRoundRunnerDeps) {
    this.#d = deps;
    this.#secure = new SecureRounds(deps);
    this.#end = {
      store: deps.store,
      log: deps.log,
      evaluate: deps.evaluate,
      closedLoop: deps.closedLoop,
      unpublish: (taskId) => this.#unpublish(taskId),
      kick: () => this.kick(),
      ended: (taskId) => deps.retention?.request(taskId),
    };
  }

  /** Starts ticking (resumes running tasks). */
  start(): void {
    this.#timer = setInterval(() => this.kick(), this.#d.tickMs ?? 250);
    this.#timer.unref();
    this.kick();
  }

  /** Looks at every running task now (an update completed, a task was created). */
  kick(): void {
    if (this.#closed) return;
    if (this.#busy) {
      this.#again = true;
      return;
    }
    // A tick that fails outside a task's own step (the store unreachable or its pool exhausted
    // while listing tasks) is retried next tick; escaping, it would end the hub's process.
    this.#busy = this.#tickAll()
      .catch((err: unknown) => {
        this.#d.log.error({ err }, 'federated tick failed; retried next tick');
      })
      .finally(() => {
        this.#busy = undefined;
        if (this.#again) {
          this.#again = false;
          this.kick();
        }
      });
  }

  /** Resolves once no tick is running. */
  async idle(): Promise<void> {
    while (this.#busy) await this.#busy;
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#timer);
    await this.idle();
  }

  /** Validates and stores a new task (`POST /v1/federated/tasks`); the next tick opens round 1. */
  async createTask(input: unknown): Promise<FlTaskRecord> {
    const { spec, bytes } = await resolveTaskSpec(input, this.#d.loadModel, {
      artifacts: this.#d.weights !== undefined,
    });
    const { weights: _w, ...stored } = spec;
    const now = this.#d.now();
    const record: FlTaskRecord = {
      id: spec.id,
      spec: stored,
      status: 'running',
      round: 1,
      serverState: null,
      best: null,
      reason: null,
      createdAt: now,
      updatedAt: now,
    };
    await this.#d.store.createFlTask(record, bytes);
    this.#d.log.info(
      { task: spec.id, strategy: spec.strategy, mode: spec.mode, rounds: spec.rounds },
      'federated task created',
    );
    this.kick();
    return record;
  }

  /**
   * A device's secure-aggregation message (`fl.secagg.*` event body), stored on any replica.
   * Throws naming why it does not fit (no such secure round in progress, wrong phase, bad
   * schema); a message already taken is ignored.
   */
  async secureMessage(deviceId: string, type: string, body: unknown): Promise<void> {
    if ((await this.#secure.receive(deviceId, type, body)) === 'stored') this.kick();
  }

  /** Stops a running task and removes it from every device's desired state. */
  async stopTask(id: string): Promise<FlTaskRecord> {
    const task = await this.#d.store.getFlTask(id);
    if (task === undefined) throw new OutpostError('HUB_NOT_FOUND', `no federated task ${id}`);
    if (task.status === 'running') {
      await this.#d.store.updateFlTask(id, { status: 'stopped', reason: 'stopped by the operator' });
      await this.#unpublish(id);
      this.#d.retention?.request(id);
    }
    return (await this.#d.store.getFlTask(id)) as FlTaskRecord;
  }

  async #tickAll(): Promise<void> {
    const driving = await this.#mayDrive();
    if (driving && !this.#driving && this.#d.onDrive) {
      try {
        await this.#d.onDrive();
      } catch (err) {
        this.#d.log.error({ err }, 'taking over the federated rounds failed; retried next tick');
        return;
      }
    }
    this.#driving = driving;
    if (!driving) return;
    const tasks = (await this.#d.store.listFlTasks()).filter((t) => t.status === 'running');
    for (const task of tasks) {
      if (this.#closed) return;
      try {
        await this.#step(task);
      } catch (err) {
        this.#d.log.error({ err, task: task.id }, 'federated task step failed; retried next tick');
      }
    }
  }

  /** Asks `shouldDrive`; a failure to ask (store down) counts as not driving this tick. */
  async #mayDrive(): Promise<boolean> {
    try {
      return (await this.#d.shouldDrive?.()) ?? true;
    } catch (err) {
      this.#d.log.warn({ err }, 'could not check the federated lease; not driving rounds this tick');
      return false;
    }
  }

  async #step(task: FlTaskRecord): Promise<void> {
    const spec = { ...(task.spec as Omit<FlTaskSpec, 'weights'>), weights: '' } as FlTaskSpec;
    const round = await this.#d.store.getFlRound(task.id, task.round);
    if (round === undefined) return this.#open(task, spec);
    if (round.status !== 'open') return;
    if (spec.mode === 'sync') return this.#stepSync(task, spec, round);
    return this.#stepAsync(task, spec, round);
  }

  async #open(task: FlTaskRecord, spec: FlTaskSpec): Promise<void> {
    await openRound(this.#d, task, spec, this.#secure);
  }

  async #stepSync(task: FlTaskRecord, spec: FlTaskSpec, round: FlRoundRecord): Promise<void> {
    const now = this.#d.now();
    if (spec.secagg) return this.#stepSecure(task, spec, round, now);
    const pending = await this.#d.store.listFlPending(task.id, round.round);
    const complete = pending.filter((p) => p.chunks >= p.total);
    const everyone = round.selected.every((id) => complete.some((p) => p.deviceId === id));
    if (everyone || (now >= round.deadline && complete.length >= spec.minClients)) {
      return closeRound(this.#end, task, spec, round, complete, now);
    }
    if (now >= round.deadline + spec.graceS * 1000) {
      const reason = `${complete.length} complete updates by the deadline, the round needs ${spec.minClients}`;
      return failRound(this.#end, task, spec, round, reason, now);
    }
  }

  async #stepSecure(task: FlTaskRecord, spec: FlTaskSpec, round: FlRoundRecord, now: number): Promise<void> {
    const sa = await this.#secure.load(round);
    if (sa === undefined || typeof sa === 'string') {
      const reason = sa ?? 'secure round interrupted: a hub that kept it in memory only opened it';
      return this.#secure.end(round, () => failRound(this.#end, task, spec, round, reason, now));
    }
    const global = async () =>
      decodeUpdate(await roundWeights(this.#d.store, task.id, round.round), shapesOf(spec));
    const outcome = await stepSecure(this.#d, sa, round, global, now);
    if (outcome.kind === 'wait') {
      if (now >= round.deadline + spec.graceS * 1000) {
        const reason = `secure aggregation stuck in phase ${sa.phase} past the grace`;
        return this.#secure.end(round, () => failRound(this.#end, task, spec, round, reason, now));
      }
      return;
    }
    if (outcome.kind === 'fail') {
      const reason = outcome.reason;
      return this.#secure.end(round, () => failRound(this.#end, task, spec, round, reason, now));
    }
    const updates = round.selected.map((deviceId) => {
      const ok = outcome.survivors.includes(deviceId);
      return {
        taskId: task.id,
        round: round.round,
        deviceId,
        status: ok ? ('accepted' as const) : ('rejected' as const),
        reason: ok ? null : 'secagg-dropped: not among the survivors of the secure round',
        appliedIn: ok ? round.round : null,
        at: now,
      };
    });
    const agg: RoundAggregate & { weights: ModelWeights } = {
      weights: outcome.weights,
      serverState: task.serverState,
      updates,
      accepted: outcome.survivors.length,
      rejected: outcome.dropped.length > 0 ? { 'secagg-dropped': outcome.dropped.length } : {},
      examples: outcome.examples,
      trainAccuracy: null,
      dp: null,
      failure: null,
    };
    const survivors = outcome.survivors.map((deviceId) => ({ deviceId }));
    const start = await global();
    return this.#secure.end(round, () =>
      finishRound(this.#end, task, spec, round, agg, survivors, start, now),
    );
  }

  async #stepAsync(task: FlTaskRecord, spec: FlTaskSpec, round: FlRoundRecord): Promise<void> {
    const pending = await this.#d.store.listFlPending(task.id);
    const complete = pending.filter((p) => p.chunks >= p.total).slice(0, spec.bufferK);
    if (complete.length < spec.bufferK) return;
    return closeRound(this.#end, task, spec, round, complete, this.#d.now());
  }

  async #unpublish(taskId: string): Promise<void> {
    const ids = (await this.#d.store.listDesired())
      .filter((d) => d.desired.federated?.task.id === taskId)
      .map((d) => d.deviceId);
    if (ids.length > 0) await this.#d.desired.update(ids, (current) => withoutTask(current, taskId));
    await this.#d.weights?.prune(taskId);
  }
}
