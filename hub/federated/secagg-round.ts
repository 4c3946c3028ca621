import type { Logger } from 'pino';
import {
  globalFromSecureSum,
  type ModelWeights,
  mergeTensors,
  pickTensors,
  reassemble,
  SecAggServer,
  secureInputLength,
} from '../../federated/index.js';
import {
  FL_SECAGG_ADVERTISE,
  FL_SECAGG_SHARES,
  FL_SECAGG_UNMASK,
  type FlSecAgg,
  FlSecAggAdvertiseEventSchema,
  FlSecAggSharesEventSchema,
  FlSecAggUnmaskEventSchema,
  type FlTask,
} from '../../shared/messages/federated.js';
import type { DesiredService } from '../desired/desired-service.js';
import type { FederatedStore, FlRoundRecord } from '../store/federated-types.js';
import { withTask } from './sections.js';
import type { FlTaskSpec } from './task-spec.js';
import { updateShapes, updateTensorNames } from './update-tensors.js';

/** The phase a secure round is in, and what each device must be told. */
type Phase = FlSecAgg['phase'];

/** One secure round on the hub: the fl-core server and the phase the devices were told. */
export class SecAggRound {
  readonly server: SecAggServer;
  phase: Phase = 'advertise';
  readonly maxExamples: number;
  /** Hub time the current phase began, ms. */
  phaseAt: number;
  /** Devices heard from in each step. */
  readonly advertised = new Set<string>();
  readonly shared = new Set<string>();
  readonly masked = new Set<string>();
  readonly unmasked = new Set<string>();
  /** Examples each masked input stands for (its chunks' metadata). */
  readonly examples = new Map<string, number>();
  /** The tensors the masked inputs carry (a fine-tuning task's trainable ones), or null: all. */
  readonly tensors: string[] | null;

  constructor(
    /** The round's task as published, without its `secagg` section. */
    readonly task: FlTask,
    spec: FlTaskSpec,
    round: number,
    selected: number,
    now: number,
  ) {
    const s = spec.secagg as NonNullable<FlTaskSpec['secagg']>;
    this.maxExamples = s.maxExamples;
    this.tensors = updateTensorNames(spec);
    this.server = new SecAggServer({
      round,
      threshold: s.threshold,
      length: secureInputLength(updateShapes(spec.shapes, this.tensors)),
      scale: s.scale,
      maxAbs: spec.clipNorm,
      maxClients: Math.max(2, selected, s.threshold),
    });
    this.phaseAt = now;
  }

  /** The `secagg` section of the task for `deviceId` in the current phase. */
  sectionFor(deviceId: string): FlSecAgg {
    const p = this.server.params;
    const section: FlSecAgg = {
      phase: this.phase,
      params: {
        round: p.round,
        threshold: p.threshold,
        length: p.length,
        scale: p.scale,
        maxAbs: p.maxAbs,
        maxClients: p.maxClients,
      },
      maxExamples: this.maxExamples,
    };
    if (this.phase === 'share') section.roster = this.server.roster();
    if (this.phase === 'mask') {
      section.submitted = this.server.submitted();
      section.inbox = this.server.inboxFor(deviceId);
    }
    if (this.phase === 'unmask') section.survivors = this.server.survivors();
    return section;
  }

  /**
   * Takes one device message (an event body of `type`); a message that does not fit the
   * phase or the schema throws, naming why (the caller counts the refusal).
   */
  receive(deviceId: string, type: string, body: unknown): void {
    if (type === FL_SECAGG_ADVERTISE) {
      const m = FlSecAggAdvertiseEventSchema.parse(body);
      if (m.advertisement.clientId !== deviceId)
        throw new Error(`advertisement for ${m.advertisement.clientId}`);
      this.server.receiveAdvertisement(m.advertisement);
      this.advertised.add(deviceId);
    } else if (type === FL_SECAGG_SHARES) {
      this.server.receiveShares(deviceId, FlSecAggSharesEventSchema.parse(body).shares);
      this.shared.add(deviceId);
    } else if (type === FL_SECAGG_UNMASK) {
      const m = FlSecAggUnmaskEventSchema.parse(body);
      if (m.response.from !== deviceId) throw new Error(`unmasking for ${m.response.from}`);
      this.server.receiveUnmasking(m.response);
      this.unmasked.add(deviceId);
    }
  }
}

/** Fixed-point inputs: the masked words a device sent as its update bytes. */
export function maskedWords(bytes: Uint8Array): Uint32Array {
  if (bytes.byteLength % 4 !== 0)
    throw new Error(`masked input of ${bytes.byteLength} bytes is not whole words`);
  const words = new Uint32Array(bytes.byteLength / 4);
  new Uint8Array(words.buffer).set(bytes);
  return words;
}

/** Logs once per round and phase. */
export function logPhase(
  log: Logger,
  taskId: string,
  round: number,
  phase: Phase,
  detail: Record<string, unknown>,
) {
  log.info({ task: taskId, round, phase, ...detail }, 'secure aggregation phase');
}

/** What one look at a secure round decided. */
export type SecureOutcome =
  | { kind: 'wait' }
  | { kind: 'fail'; reason: string }
  | { kind: 'done'; weights: ModelWeights; survivors: string[]; dropped: string[]; examples: number };

/** What {@link stepSecure} needs. */
export interface SecureStepDeps {
  store: FederatedStore;
  desired: DesiredService;
  log: Logger;
}

/**
 * Advances a secure round by at most one phase: a phase ends when every
 * device expected in it answered, or once the round's deadline passed with at least t
 * answers; the next phase is then published to the devices still in the protocol. The
 * masked inputs arrive as the round's update chunks (filed like any update). At the end the
 * survivors' sum becomes the new global model (fl-core's `globalFromSecureSum`; a fine-tuning
 * task's sum covers its trainable tensors, merged into the full model).
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
      sa.server.roster();
      return await advance(deps, sa, round, 'share', now, [...sa.advertised]);
    }
    if (sa.phase === 'share') {
      const roster = sa.server.roster().map((r) => r.clientId);
      if (!ready(sa.shared.size, roster.length)) return { kind: 'wait' };
      const u2 = sa.server.submitted();
      return await advance(deps, sa, round, 'mask', now, u2);
    }
    const u2 = sa.server.submitted();
    if (sa.phase === 'mask') {
      for (const p of await deps.store.listFlPending(round.taskId, round.round)) {
        if (p.chunks < p.total || sa.masked.has(p.deviceId) || !u2.includes(p.deviceId)) continue;
        const chunks = await deps.store.getFlChunks(round.taskId, round.round, p.deviceId);
        const bytes = reassemble(
          chunks.map((c) => ({ index: c.index, total: c.total, digest: c.digest, bytes: c.bytes })),
        );
        sa.server.receiveMaskedInput(p.deviceId, maskedWords(bytes));
        sa.masked.add(p.deviceId);
        sa.examples.set(p.deviceId, Number(chunks[0]?.meta.examples ?? 0));
      }
      if (!ready(sa.masked.size, u2.length)) return { kind: 'wait' };
      return await advance(deps, sa, round, 'unmask', now, sa.server.survivors());
    }
    const survivors = sa.server.survivors();
    if (!ready(sa.unmasked.size, survivors.length)) return { kind: 'wait' };
    const result = sa.server.finish();
    const full = await global();
    const weights = sa.tensors
      ? mergeTensors(full, globalFromSecureSum(pickTensors(full, sa.tensors), result.sum))
      : globalFromSecureSum(full, result.sum);
    const examples = result.survivors.reduce((n, id) => n + (sa.examples.get(id) ?? 0), 0);
    return { kind: 'done', weights, survivors: result.survivors, dropped: result.dropped, examples };
  } catch (err) {
    return { kind: 'fail', reason: `secure aggregation: ${(err as Error).message}` };
  }
}

async function advance(
  deps: SecureStepDeps,
  sa: SecAggRound,
  round: FlRoundRecord,
  phase: Phase,
  now: number,
  devices: string[],
): Promise<SecureOutcome> {
  sa.phase = phase;
  sa.phaseAt = now;
  const base = sa.task;
  await deps.desired.update(devices, (current, id) =>
    withTask(current, { ...base, secagg: sa.sectionFor(id) }),
  );
  logPhase(deps.log, round.taskId, round.round, phase, { devices: devices.length });
  return { kind: 'wait' };
}
