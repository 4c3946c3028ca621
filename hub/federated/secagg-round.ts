/**
 * One secure-aggregation round in a hub process's memory: the fl-core server fed with what the
 * store holds of the round, and the phase its devices were told (`SecAggRound`), with the
 * pieces the store-backed side (`secagg-persistence.ts`) and the phase steps (`secagg-step.ts`)
 * share: the round's parameters, feeding it the masked inputs, and telling protocol failures
 * (the round fails) from anything else (the round is looked at again).
 */
import type { Logger } from 'pino';
import { reassemble, type SecAggParams, SecAggServer, secureInputLength } from '../../federated/index.js';
import type { FlSecAgg, FlTask } from '../../shared/messages/federated.js';
import type { FederatedStore } from '../store/federated-types.js';
import type { SecAggMessageRecord, SecAggPhase, SecAggRoundRecord } from '../store/secagg-types.js';
import type { FlTaskSpec } from './task-spec.js';
import { updateShapes, updateTensorNames } from './update-tensors.js';

/**
 * The protocol cannot go on (too few answers, a message the server refuses, an update that is
 * not a masked input): the round fails with this reason. Anything else thrown while stepping
 * (the store unreachable) leaves the round as it is, to be looked at again.
 */
export class SecureFailure extends Error {}

/** Runs a step of the protocol itself; what it throws becomes a {@link SecureFailure}. */
export function protocol<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    throw err instanceof SecureFailure ? err : new SecureFailure((err as Error).message);
  }
}

/** fl-core's parameters of a secure round of `spec` with `selected` devices. */
export function secureParams(spec: FlTaskSpec, round: number, selected: number): SecAggParams {
  const s = spec.secagg as NonNullable<FlTaskSpec['secagg']>;
  return new SecAggServer({
    round,
    threshold: s.threshold,
    length: secureInputLength(updateShapes(spec.shapes, updateTensorNames(spec))),
    scale: s.scale,
    maxAbs: spec.clipNorm,
    maxClients: Math.max(2, selected, s.threshold),
  }).params;
}

/** A secure round's task as stored: both forms of its weights, and who takes the artifact. */
export type SecureTask = SecAggRoundRecord['task'];

/**
 * The task `deviceId` is given in a secure round (without its `secagg` section): the signed
 * artifact reference when the device was given it at the round's opening (or when the weights
 * are too large to embed), else the weights embedded, as in a normal round.
 */
export function secureTaskFor(task: SecureTask, deviceId: string): FlTask {
  const { artifactDevices, weights, weightsDigest, weightsArtifact, ...base } = task;
  if (weightsArtifact !== undefined && (weights === undefined || artifactDevices?.includes(deviceId)))
    return { ...base, weightsArtifact };
  return { ...base, weights, weightsDigest };
}

/**
 * One secure round in a hub process: the fl-core server fed with what the store holds of the
 * round, and the phase the devices were told. The store is the truth (`fl_secagg_rounds`,
 * `fl_secagg_messages`, the round's chunks); this is the driving replica's copy of it, fed
 * with the messages taken since (`seq`), rebuilt from the store when it cannot be trusted.
 */
export class SecAggRound {
  readonly server: SecAggServer;
  phase: SecAggPhase;
  readonly maxExamples: number;
  /** The tensors the masked inputs carry (a fine-tuning task's trainable ones), or null: all. */
  readonly tensors: string[] | null;
  /** Hub time the current phase began, ms. */
  phaseAt: number;
  /** Sequence number of the last stored message fed to the server. */
  seq = 0;
  /** Set when the server holds more than the store (a phase end that did not commit): rebuild. */
  stale = false;
  /** Devices heard from in each step. */
  readonly advertised = new Set<string>();
  readonly shared = new Set<string>();
  /** The devices whose masked input is in the server's running sum. */
  readonly masked = new Set<string>();
  readonly unmasked = new Set<string>();
  /** Examples each masked input stands for (its chunks' metadata). */
  readonly examples = new Map<string, number>();

  constructor(
    /** The round's task as stored, without its `secagg` section ({@link secureTaskFor}). */
    readonly task: SecureTask,
    params: SecAggParams,
    maxExamples: number,
    phaseAt: number,
    phase: SecAggPhase = 'advertise',
  ) {
    this.maxExamples = maxExamples;
    this.tensors = task.updateTensors ?? null;
    this.server = new SecAggServer(params);
    this.phaseAt = phaseAt;
    this.phase = phase;
  }

  /** The task `deviceId` is given, with its `secagg` section of the current phase. */
  taskFor(deviceId: string): FlTask {
    return { ...secureTaskFor(this.task, deviceId), secagg: this.sectionFor(deviceId) };
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

  /** The devices told the current phase (those still in the protocol). */
  devicesOfPhase(selected: readonly string[]): string[] {
    if (this.phase === 'share') return this.server.roster().map((r) => r.clientId);
    if (this.phase === 'mask') return this.server.submitted();
    if (this.phase === 'unmask') return this.server.survivors();
    return [...selected];
  }

  /** Feeds one stored message (checked when it was taken) to the server. */
  take(m: SecAggMessageRecord): void {
    if (m.kind === 'advertise') {
      const body = m.body as { advertisement: Parameters<SecAggServer['receiveAdvertisement']>[0] };
      this.server.receiveAdvertisement(body.advertisement);
      this.advertised.add(m.deviceId);
    } else if (m.kind === 'shares') {
      const body = m.body as { shares: Parameters<SecAggServer['receiveShares']>[1] };
      this.server.receiveShares(m.deviceId, body.shares);
      this.shared.add(m.deviceId);
    } else {
      const body = m.body as { response: Parameters<SecAggServer['receiveUnmasking']>[0] };
      this.server.receiveUnmasking(body.response);
      this.unmasked.add(m.deviceId);
    }
    this.seq = Math.max(this.seq, m.seq);
  }
}

/**
 * Fixed-point inputs: the masked words a device sent as its update bytes (a view of them when
 * they are word-aligned, else a copy).
 */
export function maskedWords(bytes: Uint8Array): Uint32Array {
  if (bytes.byteLength % 4 !== 0)
    throw new Error(`masked input of ${bytes.byteLength} bytes is not whole words`);
  if (bytes.byteOffset % 4 === 0)
    return new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
  const words = new Uint32Array(bytes.byteLength / 4);
  new Uint8Array(words.buffer).set(bytes);
  return words;
}

/**
 * Adds a device's masked input to the round's running sum: its complete update, as chunk
 * events (embedded rounds) or as an upload (chunk 0 its `fl.update.upload` event, the parts
 * 1..n), reassembled and checked against the SHA-256 the device declared. The input is read
 * from the store, added (the server refuses a device already in the sum) and dropped: the
 * round holds one model-sized sum, and only one input is in memory at a time while it is
 * added. The stored chunks stay, so a rebuilt round sums them again from zero.
 */
export async function takeMaskedInput(
  store: FederatedStore,
  sa: SecAggRound,
  deviceId: string,
): Promise<void> {
  const { id: taskId, round } = sa.task;
  const chunks = await store.getFlChunks(taskId, round, deviceId);
  protocol(() => {
    const bytes = reassemble(
      chunks.map((c) => ({ index: c.index, total: c.total, digest: c.digest, bytes: c.bytes })),
    );
    sa.server.receiveMaskedInput(deviceId, maskedWords(bytes));
  });
  sa.masked.add(deviceId);
  const head = chunks.find((c) => c.index === 0) ?? chunks[0];
  sa.examples.set(deviceId, Number(head?.meta.examples ?? 0));
}

/** Logs once per round and phase. */
export function logPhase(
  log: Logger,
  taskId: string,
  round: number,
  phase: SecAggPhase,
  detail: Record<string, unknown>,
) {
  log.info({ task: taskId, round, phase, ...detail }, 'secure aggregation phase');
}
