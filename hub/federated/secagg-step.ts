/**
 * The driving replica's step of a secure round (`stepSecure`): ends the current phase when its
 * answers are in, stores that end, publishes the next phase, and at the end turns the
 * survivors' sum into the new global model. The round in memory is `secagg-round.ts`; the
 * rounds as kept in the store (opened, fed, resumed, ended) are `secagg-persistence.ts`.
 */
import type { Logger } from 'pino';
import { globalFromSecureSum, type ModelWeights, mergeTensors, pickTensors } from '../../federated/index.js';
import type { DesiredService } from '../desired/desired-service.js';
import type { FlRoundRecord } from '../store/federated-types.js';
import type { SecAggPhase, SecAggRoundRecord } from '../store/secagg-types.js';
import type { SecureStore } from './secagg-persistence.js';
import { logPhase, protocol, type SecAggRound, SecureFailure, takeMaskedInput } from './secagg-round.js';
import { withTask } from './sections.js';

/** What one look at a secure round decided. */
export type SecureOutcome =
  | { kind: 'wait' }
  | { kind: 'fail'; reason: string }
  | { kind: 'done'; weights: ModelWeights; survivors: string[]; dropped: string[]; examples: number };

/** What {@link stepSecure} needs. */
export interface SecureStepDeps {
  store: SecureStore;
  desired: DesiredService;
  log: Logger;
}

/**
 * Advances a secure round by at most one phase: a phase ends when every
 * device expected in it answered, or once the round's deadline passed with at least t
 * answers; the end is stored (what the phase fixed, and the next phase), then the next phase
 * is published to the devices still in the protocol. The masked inputs arrive as the round's
 * updates, filed like any update: uploaded in parts (devices given the weights as an
 * artifact) or as chunk events (the others); one counts once every byte is held and hashes
 * right. At the end the survivors' sum becomes the new global model (fl-core's
 * `globalFromSecureSum`; a fine-tuning task's sum covers its trainable tensors, merged into
 * the full model).
 */
export async function stepSecure(
  deps: SecureStepDeps,
  sa: SecAggRound,
  round: FlRoundRecord,
  global: () => Promise<ModelWeights>,
  now: number,
): Promise<SecureOutcome> {
  const t = sa.server.params.threshold;
  const late = now >= round.deadline;
  const ready = (got: number, expected: number) => got >= expected || (late && got >= t);
  try {
    if (sa.phase === 'advertise') {
      if (!ready(sa.advertised.size, round.selected.length)) return { kind: 'wait' };
      const roster = protocol(() => sa.server.roster());
      return await advance(deps, sa, round, 'share', now, { roster }, [...sa.advertised]);
    }
    if (sa.phase === 'share') {
      const roster = protocol(() => sa.server.roster()).map((r) => r.clientId);
      if (!ready(sa.shared.size, roster.length)) return { kind: 'wait' };
      const u2 = protocol(() => sa.server.submitted());
      return await advance(deps, sa, round, 'mask', now, { submitted: u2 }, u2);
    }
    const u2 = protocol(() => sa.server.submitted());
    if (sa.phase === 'mask') {
      // One at a time: each complete input is read, added to the running sum and dropped.
      for (const p of await deps.store.listFlPending(round.taskId, round.round)) {
        if (p.chunks < p.total || sa.masked.has(p.deviceId) || !u2.includes(p.deviceId)) continue;
        await takeMaskedInput(deps.store, sa, p.deviceId);
      }
      if (!ready(sa.masked.size, u2.length)) return { kind: 'wait' };
      const u3 = protocol(() => sa.server.survivors());
      return await advance(deps, sa, round, 'unmask', now, { survivors: u3 }, u3);
    }
    const survivors = protocol(() => sa.server.survivors());
    if (!ready(sa.unmasked.size, survivors.length)) return { kind: 'wait' };
    const result = protocol(() => sa.server.finish());
    const full = await global();
    const tensors = sa.tensors;
    const weights = protocol(() =>
      tensors
        ? mergeTensors(full, globalFromSecureSum(pickTensors(full, tensors), result.sum))
        : globalFromSecureSum(full, result.sum),
    );
    const examples = result.survivors.reduce((n, id) => n + (sa.examples.get(id) ?? 0), 0);
    return { kind: 'done', weights, survivors: result.survivors, dropped: result.dropped, examples };
  } catch (err) {
    if (!(err instanceof SecureFailure)) throw err;
    // The server here may hold what a failed step took: never reuse this copy.
    sa.stale = true;
    return { kind: 'fail', reason: `secure aggregation: ${err.message}` };
  }
}

/**
 * Ends the current phase: stores what it fixed and the next `phase` (a compare-and-set on the
 * phase and the last message this copy took), then publishes `phase` to `devices`. A lost
 * compare-and-set leaves the phase as stored and marks this copy stale, to be rebuilt.
 */
async function advance(
  deps: SecureStepDeps,
  sa: SecAggRound,
  round: FlRoundRecord,
  phase: SecAggPhase,
  now: number,
  fixed: Partial<Pick<SecAggRoundRecord, 'roster' | 'submitted' | 'survivors'>>,
  devices: string[],
): Promise<SecureOutcome> {
  const stored = await deps.store.advanceSecAggRound(
    round.taskId,
    round.round,
    { phase: sa.phase, seq: sa.seq },
    { phase, phaseAt: now, ...fixed },
  );
  if (!stored) {
    // A message was taken since this copy was fed (or another driver moved on): the server
    // here fixed a phase over less than the store holds. Rebuild it on the next look.
    sa.stale = true;
    return { kind: 'wait' };
  }
  sa.phase = phase;
  sa.phaseAt = now;
  await deps.desired.update(devices, (current, id) => withTask(current, sa.taskFor(id)));
  logPhase(deps.log, round.taskId, round.round, phase, {
    devices: devices.length,
    maskedBytesHeld: sa.server.maskedBytesHeld,
  });
  return { kind: 'wait' };
}
