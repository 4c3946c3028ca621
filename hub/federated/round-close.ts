import type { Logger } from 'pino';
import { decodeUpdate, encodeUpdate, type ModelWeights } from '../../federated/index.js';
import type { FlRoundRecord, FlTaskRecord, FlUpdateRecord } from '../store/federated-types.js';
import type { HubStore } from '../store/types.js';
import { aggregateRound, type RoundAggregate } from './aggregate-round.js';
import type { DpRecord } from './central-dp.js';
import { type ClosedLoopHook, runClosedLoop } from './closed-loop-run.js';
import type { HubEvaluator } from './hub-eval.js';
import { summarizeEvals } from './round-metrics.js';
import type { FlTaskSpec } from './task-spec.js';

/** What ending a round needs from the round runner. */
export interface RoundEndDeps {
  store: HubStore;
  log: Logger;
  evaluate?: HubEvaluator | undefined;
  closedLoop?: ClosedLoopHook | undefined;
  /** Removes the task from every device's desired state (its last round ended). */
  unpublish(taskId: string): Promise<void>;
  /** Looks at the running tasks again (the next round may open now). */
  kick(): void;
  /** A round of the task was closed or failed here (retention prunes what it no longer needs). */
  ended?(taskId: string): void;
}

/** The weight names and shapes of a task, in order. */
export const shapesOf = (spec: FlTaskSpec) => spec.shapes.map((s) => ({ name: s.name, shape: [...s.shape] }));

/** The complete updates a round closes with. */
export type CompleteUpdates = Parameters<typeof aggregateRound>[0]['pending'];

/** The global weights `round` started from; throws when the store has none. */
export async function roundWeights(store: HubStore, taskId: string, round: number): Promise<Uint8Array> {
  const bytes = await store.getFlWeights(taskId, round);
  if (bytes === undefined) throw new Error(`task ${taskId} has no weights for round ${round}`);
  return bytes;
}

/**
 * Closes a round with its complete updates: aggregates them (a round that
 * accepts nothing fails), then {@link finishRound}.
 */
export async function closeRound(
  d: RoundEndDeps,
  task: FlTaskRecord,
  spec: FlTaskSpec,
  round: FlRoundRecord,
  complete: CompleteUpdates,
  now: number,
): Promise<void> {
  const global = decodeUpdate(await roundWeights(d.store, task.id, round.round), shapesOf(spec));
  const agg = await aggregateRound({
    store: d.store,
    taskId: task.id,
    spec,
    round: round.round,
    global,
    serverState: task.serverState,
    pending: complete,
    now,
    dpContext: spec.dp ? await dpContext(d.store, task.id, round) : undefined,
  });
  if (agg.weights === null)
    return failRound(d, task, spec, round, agg.failure ?? 'nothing accepted', now, agg.updates);
  const done = agg as RoundAggregate & { weights: ModelWeights };
  return finishRound(d, task, spec, round, done, complete, global, now);
}

/** Evaluates, runs the closed loop, stores the round closed with the next weights. */
export async function finishRound(
  d: RoundEndDeps,
  task: FlTaskRecord,
  spec: FlTaskSpec,
  round: FlRoundRecord,
  agg: RoundAggregate & { weights: ModelWeights },
  complete: ReadonlyArray<{ deviceId: string }>,
  global: ModelWeights,
  now: number,
): Promise<void> {
  const { store, log } = d;
  const federatedEval = summarizeEvals(await store.listFlEvals(task.id, round.round));
  const hubEval = await evaluate(d, task.id, spec, agg.weights);
  // The starting model's score, once: the "before" of the whole task.
  const hubEvalStart = hubEval && round.round === 1 ? await evaluate(d, task.id, spec, global) : undefined;
  const last = round.round >= spec.rounds;
  const { best, closedLoop } = await runClosedLoop({
    hook: d.closedLoop,
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
  if (last) await d.unpublish(task.id);
  d.ended?.(task.id);
  d.kick();
}

/**
 * Ends a round as failed: the next round starts from the same weights; three failures in a
 * row fail the task, and a failed last round ends it.
 */
export async function failRound(
  d: RoundEndDeps,
  task: FlTaskRecord,
  spec: FlTaskSpec,
  round: FlRoundRecord,
  reason: string,
  now: number,
  updates: FlUpdateRecord[] = [],
): Promise<void> {
  const { store, log } = d;
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
  if (end) await d.unpublish(task.id);
  d.ended?.(task.id);
  if (!end && spec.mode === 'sync') d.kick();
}

/** Hub-side evaluation; a failure is logged and leaves the round without one (null). */
async function evaluate(d: RoundEndDeps, taskId: string, spec: FlTaskSpec, weights: ModelWeights) {
  if (d.evaluate === undefined) return null;
  try {
    return await d.evaluate(spec, weights);
  } catch (err) {
    d.log.warn({ err, task: taskId }, 'hub-side evaluation failed; the round closes without it');
    return null;
  }
}

/** The sampling rate of `round` and the DP history of the rounds before it. */
async function dpContext(
  store: HubStore,
  taskId: string,
  round: FlRoundRecord,
): Promise<{ q: number; previous: DpRecord['history'] }> {
  const rounds = await store.listFlRounds(taskId);
  const before = rounds.filter((r) => r.round < round.round && r.status === 'closed' && r.metrics.dp).at(-1);
  const previous = ((before?.metrics.dp as DpRecord | undefined)?.history ?? []) as DpRecord['history'];
  const eligible = Number(round.metrics.eligible ?? round.selected.length) || round.selected.length;
  return { q: round.selected.length / eligible, previous };
}
