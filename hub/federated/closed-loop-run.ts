import type { Logger } from 'pino';
import type { ModelWeights } from '../../federated/index.js';
import type { FlTaskRecord } from '../store/federated-types.js';
import type { FlTaskSpec } from './task-spec.js';

/**
 * The closed loop: `register` when a round's model beats the best score so
 * far (the starting model's, at first); `rollout` of the best registered version once the
 * task ends, by the task's policy.
 */
export interface ClosedLoopHook {
  register(args: {
    task: FlTaskRecord;
    spec: FlTaskSpec;
    round: number;
    weights: ModelWeights;
    accuracy: number;
  }): Promise<{ version: string } & Record<string, unknown>>;
  rollout(args: { task: FlTaskRecord; spec: FlTaskSpec; version: string }): Promise<Record<string, unknown>>;
}

type Score = { accuracy: number } | null | undefined;

/**
 * The closed loop at a round's close: when the round's hub accuracy beats
 * the best so far (the starting model's at first) it is the new best and, with
 * `closedLoop.register`, registered as a version; at the task's last round the best version
 * is rolled out by `closedLoop.rollout`. A failure is logged and recorded, never fatal to
 * the round; a round whose registration failed does not become the best. Returns the task's new best and what the closed loop did (or null).
 */
export async function runClosedLoop(args: {
  hook: ClosedLoopHook | undefined;
  log: Logger;
  task: FlTaskRecord;
  spec: FlTaskSpec;
  round: number;
  weights: ModelWeights;
  hubEval: Score;
  hubEvalStart: Score;
  last: boolean;
}): Promise<{ best: FlTaskRecord['best']; closedLoop: Record<string, unknown> | null }> {
  const { hook, log, task, spec, round, hubEval } = args;
  let best = task.best;
  let closedLoop: Record<string, unknown> | null = null;
  const bar = best?.accuracy ?? args.hubEvalStart?.accuracy ?? Number.NEGATIVE_INFINITY;
  if (hubEval && hubEval.accuracy > bar) {
    const candidate = { round, accuracy: hubEval.accuracy };
    if (spec.closedLoop?.register && hook) {
      try {
        closedLoop = await hook.register({
          task,
          spec,
          round,
          weights: args.weights,
          accuracy: hubEval.accuracy,
        });
        best = { ...candidate, version: String(closedLoop.version) };
      } catch (err) {
        // Not registered (e.g. its export failed the parity check): the best version stays
        // the one registered before, which the task's end rolls out.
        log.warn({ err, task: task.id, round }, 'closed loop failed; the round still closes');
        closedLoop = {
          error: (err as Error).message,
          ...((err as { details?: unknown }).details
            ? { details: (err as { details?: unknown }).details }
            : {}),
        };
      }
    } else best = candidate;
  }
  const version = best?.version;
  if (args.last && version !== undefined && spec.closedLoop?.rollout && hook) {
    try {
      closedLoop = { ...(closedLoop ?? {}), rollout: await hook.rollout({ task, spec, version }) };
    } catch (err) {
      log.warn({ err, task: task.id, version }, 'closed-loop rollout failed');
      closedLoop = { ...(closedLoop ?? {}), rolloutError: (err as Error).message };
    }
  }
  return { best, closedLoop };
}
