import type { Logger } from 'pino';
import { decodeUpdate, encodeUpdate, type ModelWeights, sha256Hex } from '../../federated/index.js';
import { OutpostError } from '../../shared/index.js';
import type { FlTask } from '../../shared/messages/federated.js';
import type { DesiredService } from '../desired/desired-service.js';
import type { FlRoundRecord, FlTaskRecord } from '../store/federated-types.js';
import type { HubStore } from '../store/types.js';
import { aggregateRound, type RoundAggregate } from './aggregate-round.js';
import type { DpRecord } from './central-dp.js';
import { type ClosedLoopHook, runClosedLoop } from './closed-loop-run.js';
import type { EmbeddedModel } from './registry-model.js';
import { summarizeEvals } from './round-metrics.js';
import { type SecAggRound, SecureRounds, stepSecure } from './secagg-round.js';
import { withoutTask, withTask } from './sections.js';
import { selectClients } from './selection.js';
import { resolveTaskSpec } from './task-create.js';
import type { FlTaskSpec } from './task-spec.js';
import { updateTensorNames } from './update-tensors.js';

/** Evaluation of a global model on the hub's held-out set. */
export type HubEvaluator = (
  spec: FlTaskSpec,
  weights: ModelWeights,
) => Promise<{ accuracy: number; loss: number; count: number } | null>;

export type { ClosedLoopHook } from './closed-loop-run.js';

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

const shapes = (spec: FlTaskSpec) => spec.shapes.map((s) => ({ name: s.name, shape: [...s.shape] }));

/**
 * The hub's federated round runner. Every task's state lives in the store,
 * so a restarted hub resumes each running task where it was: an open round keeps its
 * selection and deadline, the chunks already received count, and the next tick closes it.
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
/** Prefix of a running task's `reason` while its next round waits for devices. */
export const WAITING_FOR_DEVICES = 'waiting for devices';

export class FlRoundRunner {
  readonly #d: FlRoundRunnerDeps;
  #timer: NodeJS.Timeout | undefined;
  #busy: Promise<void> | undefined;
  #again = false;
  #closed = false;
  #driving = false;
  /** Secure rounds, kept in the store at every step (a restart or a new driver resumes them). */
  readonly #secure: SecureRounds;

  constructor(deps: FlRoundRunnerDeps) {
    this.#d = deps;
    this.#secure = new SecureRounds(deps);
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
    this.#busy = this.#tickAll().finally(() => {
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
    const { spec, bytes } = await resolveTaskSpec(input, this.#d.loadModel);
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
    const { store, now, log } = this.#d;
    const devices = await store.listDevices();
    const pick = selectClients(devices, { ...spec, seed: spec.seed, round: task.round });
    if (pick.selected === null) {
      // Why the task waits goes into its record (`fl status`, the API, every replica), once.
      const reason = `${WAITING_FOR_DEVICES}: ${pick.reason}`;
      if (task.reason !== reason) {
        log.warn({ task: task.id, round: task.round }, pick.reason);
        await store.updateFlTask(task.id, { reason });
      }
      return;
    }
    if (task.reason?.startsWith(WAITING_FOR_DEVICES)) await store.updateFlTask(task.id, { reason: null });
    const weights = await store.getFlWeights(task.id, task.round);
    if (weights === undefined) throw new Error(`task ${task.id} has no weights for round ${task.round}`);
    const opened = now();
    const deadline = opened + spec.deadlineS * 1000;
    const updateTensors = updateTensorNames(spec);
    const flTask: FlTask = {
      id: task.id,
      round: task.round,
      mode: spec.mode,
      model: spec.model,
      topology: spec.topology,
      shapes: spec.shapes,
      weights: Buffer.from(weights).toString('base64'),
      weightsDigest: sha256Hex(weights),
      lr: spec.lr,
      epochs: spec.epochs,
      batchSize: spec.batchSize,
      ...(spec.strategy === 'fedprox' ? { proxMu: Number(spec.strategyParams.mu ?? 0) } : {}),
      clipNorm: spec.clipNorm,
      compression: spec.compression,
      deadline,
      evaluate: spec.evaluate,
      seed: spec.seed,
      ...(updateTensors ? { updateTensors } : {}),
    };
    const record: FlRoundRecord = {
      taskId: task.id,
      round: task.round,
      status: 'open',
      selected: pick.selected,
      openedAt: opened,
      deadline,
      closedAt: null,
      metrics: { eligible: pick.eligible },
    };
    const selected = new Set(pick.selected);
    let sa: SecAggRound | undefined;
    if (spec.secagg) sa = await this.#secure.open(record, flTask, spec);
    else await store.openFlRound(record);
    await this.#d.desired.update(pick.selected, (current, id) =>
      withTask(current, sa ? { ...flTask, secagg: sa.sectionFor(id) } : flTask),
    );
    // Devices of an earlier round that are not in this one stop training for the task.
    const others = (await store.listDesired())
      .filter((d) => d.desired.federated?.task.id === task.id && !selected.has(d.deviceId))
      .map((d) => d.deviceId);
    if (others.length > 0) await this.#d.desired.update(others, (current) => withoutTask(current, task.id));
    log.info(
      { task: task.id, round: task.round, selected: pick.selected, deadline },
      'federated round opened',
    );
  }

  async #stepSync(task: FlTaskRecord, spec: FlTaskSpec, round: FlRoundRecord): Promise<void> {
    const now = this.#d.now();
    if (spec.secagg) return this.#stepSecure(task, spec, round, now);
    const pending = await this.#d.store.listFlPending(task.id, round.round);
    const complete = pending.filter((p) => p.chunks >= p.total);
    const everyone = round.selected.every((id) => complete.some((p) => p.deviceId === id));
    if (everyone || (now >= round.deadline && complete.length >= spec.minClients)) {
      return this.#close(task, spec, round, complete, now);
    }
    if (now >= round.deadline + spec.graceS * 1000) {
      const reason = `${complete.length} complete updates by the deadline, the round needs ${spec.minClients}`;
      return this.#fail(task, spec, round, reason, now);
    }
  }

  async #stepSecure(task: FlTaskRecord, spec: FlTaskSpec, round: FlRoundRecord, now: number): Promise<void> {
    const sa = await this.#secure.load(round);
    if (sa === undefined || typeof sa === 'string') {
      const reason = sa ?? 'secure round interrupted: a hub that kept it in memory only opened it';
      return this.#secure.end(round, () => this.#fail(task, spec, round, reason, now));
    }
    const global = async () => {
      const bytes = await this.#d.store.getFlWeights(task.id, round.round);
      if (bytes === undefined) throw new Error(`task ${task.id} has no weights for round ${round.round}`);
      return decodeUpdate(bytes, shapes(spec));
    };
    const outcome = await stepSecure(this.#d, sa, round, global, now);
    if (outcome.kind === 'wait') {
      if (now >= round.deadline + spec.graceS * 1000) {
        const reason = `secure aggregation stuck in phase ${sa.phase} past the grace`;
        return this.#secure.end(round, () => this.#fail(task, spec, round, reason, now));
      }
      return;
    }
    if (outcome.kind === 'fail') {
      const reason = outcome.reason;
      return this.#secure.end(round, () => this.#fail(task, spec, round, reason, now));
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
    return this.#secure.end(round, () => this.#finish(task, spec, round, agg, survivors, start, now));
  }

  async #stepAsync(task: FlTaskRecord, spec: FlTaskSpec, round: FlRoundRecord): Promise<void> {
    const pending = await this.#d.store.listFlPending(task.id);
    const complete = pending.filter((p) => p.chunks >= p.total).slice(0, spec.bufferK);
    if (complete.length < spec.bufferK) return;
    return this.#close(task, spec, round, complete, this.#d.now());
  }

  async #close(
    task: FlTaskRecord,
    spec: FlTaskSpec,
    round: FlRoundRecord,
    complete: Parameters<typeof aggregateRound>[0]['pending'],
    now: number,
  ): Promise<void> {
    const { store } = this.#d;
    const bytes = await store.getFlWeights(task.id, round.round);
    if (bytes === undefined) throw new Error(`task ${task.id} has no weights for round ${round.round}`);
    const global = decodeUpdate(bytes, shapes(spec));
    const agg = await aggregateRound({
      store,
      taskId: task.id,
      spec,
      round: round.round,
      global,
      serverState: task.serverState,
      pending: complete,
      now,
      dpContext: spec.dp ? await this.#dpContext(task.id, round) : undefined,
    });
    if (agg.weights === null)
      return this.#fail(task, spec, round, agg.failure ?? 'nothing accepted', now, agg.updates);
    return this.#finish(
      task,
      spec,
      round,
      agg as RoundAggregate & { weights: ModelWeights },
      complete,
      global,
      now,
    );
  }

  /** Evaluates, runs the closed loop, stores the round closed with the next weights. */
  async #finish(
    task: FlTaskRecord,
    spec: FlTaskSpec,
    round: FlRoundRecord,
    agg: RoundAggregate & { weights: ModelWeights },
    complete: ReadonlyArray<{ deviceId: string }>,
    global: ModelWeights,
    now: number,
  ): Promise<void> {
    const { store, log } = this.#d;
    const federatedEval = summarizeEvals(await store.listFlEvals(task.id, round.round));
    const hubEval = await this.#evaluate(task.id, spec, agg.weights);
    // The starting model's score, once: the "before" of the whole task.
    const hubEvalStart =
      hubEval && round.round === 1 ? await this.#evaluate(task.id, spec, global) : undefined;
    const last = round.round >= spec.rounds;
    const { best, closedLoop } = await runClosedLoop({
      hook: this.#d.closedLoop,
      log,
      task,
      spec,
      round: round.round,
      weights: agg.weights,
      hubEval,
      hubEvalStart,
      last,
    });
    const metrics = {
      ...round.metrics,
      accepted: agg.accepted,
      rejected: agg.rejected,
      examples: agg.examples,
      trainAccuracy: agg.trainAccuracy,
      dropouts: round.selected.filter((id) => !complete.some((p) => p.deviceId === id)).length,
      federatedEval,
      hubEval,
      ...(hubEvalStart ? { hubEvalStart } : {}),
      dp: agg.dp,
      closedLoop,
      failedInARow: 0,
    };
    const closed = await store.closeFlRound({
      taskId: task.id,
      round: round.round,
      status: 'closed',
      closedAt: now,
      metrics,
      updates: agg.updates,
      next: { round: round.round + 1, weights: encodeUpdate(agg.weights, { compression: 'none' }) },
      task: {
        round: round.round + 1,
        serverState: agg.serverState,
        best,
        ...(last ? { status: 'done' as const } : {}),
      },
    });
    if (!closed) {
      log.warn({ task: task.id, round: round.round }, 'round already closed elsewhere; outcome discarded');
      return;
    }
    log.info(
      { task: task.id, round: round.round, accepted: agg.accepted, rejected: agg.rejected, hubEval },
      'federated round closed',
    );
    if (last) await this.#unpublish(task.id);
    this.kick();
  }

  /** Hub-side evaluation; a failure is logged and leaves the round without one (null). */
  async #evaluate(taskId: string, spec: FlTaskSpec, weights: ModelWeights) {
    if (this.#d.evaluate === undefined) return null;
    try {
      return await this.#d.evaluate(spec, weights);
    } catch (err) {
      this.#d.log.warn({ err, task: taskId }, 'hub-side evaluation failed; the round closes without it');
      return null;
    }
  }

  /** The sampling rate of `round` and the DP history of the rounds before it. */
  async #dpContext(
    taskId: string,
    round: FlRoundRecord,
  ): Promise<{ q: number; previous: DpRecord['history'] }> {
    const rounds = await this.#d.store.listFlRounds(taskId);
    const before = rounds
      .filter((r) => r.round < round.round && r.status === 'closed' && r.metrics.dp)
      .at(-1);
    const previous = ((before?.metrics.dp as DpRecord | undefined)?.history ?? []) as DpRecord['history'];
    const eligible = Number(round.metrics.eligible ?? round.selected.length) || round.selected.length;
    return { q: round.selected.length / eligible, previous };
  }

  async #fail(
    task: FlTaskRecord,
    spec: FlTaskSpec,
    round: FlRoundRecord,
    reason: string,
    now: number,
    updates: Parameters<HubStore['closeFlRound']>[0]['updates'] = [],
  ): Promise<void> {
    const { store, log } = this.#d;
    const rounds = await store.listFlRounds(task.id);
    const previous = rounds.filter((r) => r.round < round.round).at(-1);
    const inARow = (previous?.status === 'failed' ? Number(previous.metrics.failedInARow ?? 1) : 0) + 1;
    const giveUp = inARow >= 3;
    const end = giveUp || round.round >= spec.rounds;
    const weights = await store.getFlWeights(task.id, round.round);
    const closed = await store.closeFlRound({
      taskId: task.id,
      round: round.round,
      status: 'failed',
      closedAt: now,
      metrics: { ...round.metrics, failure: reason, failedInARow: inARow },
      updates,
      next: weights && !end ? { round: round.round + 1, weights } : undefined,
      task: giveUp
        ? { status: 'failed', reason: `${inARow} rounds in a row failed; last: ${reason}` }
        : end
          ? { status: 'done', reason: `the last round failed: ${reason}` }
          : { round: round.round + 1 },
    });
    if (!closed) {
      log.warn({ task: task.id, round: round.round }, 'round already closed elsewhere; failure discarded');
      return;
    }
    log.warn({ task: task.id, round: round.round, reason, inARow }, 'federated round failed');
    if (end) await this.#unpublish(task.id);
    else if (spec.mode === 'sync') this.kick();
  }

  async #unpublish(taskId: string): Promise<void> {
    const ids = (await this.#d.store.listDesired())
      .filter((d) => d.desired.federated?.task.id === taskId)
      .map((d) => d.deviceId);
    if (ids.length > 0) await this.#d.desired.update(ids, (current) => withoutTask(current, taskId));
  }
}
