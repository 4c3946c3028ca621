import type { Logger } from 'pino';
import {
  checkAdvertisement,
  checkShares,
  checkUnmasking,
  globalFromSecureSum,
  type ModelWeights,
  mergeTensors,
  pickTensors,
  reassemble,
  type SecAggParams,
  SecAggServer,
  secureInputLength,
} from '../../federated/index.js';
import { OutpostError } from '../../shared/index.js';
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
import type { DesiredBody } from '../store/registry-types.js';
import type {
  SecAggMessageKind,
  SecAggMessageRecord,
  SecAggRoundRecord,
  SecAggStore,
} from '../store/secagg-types.js';
import { withTask } from './sections.js';
import type { FlTaskSpec } from './task-spec.js';
import { updateShapes, updateTensorNames } from './update-tensors.js';

/** The phase a secure round is in, and what each device must be told. */
type Phase = FlSecAgg['phase'];

const fail = (m: string) => new OutpostError('FL_SECAGG_FAILED', m);

/**
 * The protocol cannot go on (too few answers, a message the server refuses, an update that is
 * not a masked input): the round fails with this reason. Anything else thrown while stepping
 * (the store unreachable) leaves the round as it is, to be looked at again.
 */
class SecureFailure extends Error {}

/** Runs a step of the protocol itself; what it throws becomes a {@link SecureFailure}. */
function protocol<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    throw err instanceof SecureFailure ? err : new SecureFailure((err as Error).message);
  }
}

/** The store a secure round is kept in: the round's chunks and its protocol state. */
export type SecureStore = FederatedStore & SecAggStore;

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

/**
 * One secure round in a hub process: the fl-core server fed with what the store holds of the
 * round, and the phase the devices were told. The store is the truth (`fl_secagg_rounds`,
 * `fl_secagg_messages`, the round's chunks); this is the driving replica's copy of it, fed
 * with the messages taken since (`seq`), rebuilt from the store when it cannot be trusted.
 */
export class SecAggRound {
  readonly server: SecAggServer;
  phase: Phase;
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
  readonly masked = new Set<string>();
  readonly unmasked = new Set<string>();
  /** Examples each masked input stands for (its chunks' metadata). */
  readonly examples = new Map<string, number>();

  constructor(
    /** The round's task as published, without its `secagg` section. */
    readonly task: FlTask,
    params: SecAggParams,
    maxExamples: number,
    phaseAt: number,
    phase: Phase = 'advertise',
  ) {
    this.maxExamples = maxExamples;
    this.tensors = task.updateTensors ?? null;
    this.server = new SecAggServer(params);
    this.phaseAt = phaseAt;
    this.phase = phase;
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

/** Fixed-point inputs: the masked words a device sent as its update bytes. */
export function maskedWords(bytes: Uint8Array): Uint32Array {
  if (bytes.byteLength % 4 !== 0)
    throw new Error(`masked input of ${bytes.byteLength} bytes is not whole words`);
  const words = new Uint32Array(bytes.byteLength / 4);
  new Uint8Array(words.buffer).set(bytes);
  return words;
}

/** Feeds a device's masked input (its complete update chunks) to the round's server. */
async function takeMaskedInput(store: FederatedStore, sa: SecAggRound, deviceId: string): Promise<void> {
  const { id: taskId, round } = sa.task;
  const chunks = await store.getFlChunks(taskId, round, deviceId);
  protocol(() => {
    const bytes = reassemble(
      chunks.map((c) => ({ index: c.index, total: c.total, digest: c.digest, bytes: c.bytes })),
    );
    sa.server.receiveMaskedInput(deviceId, maskedWords(bytes));
  });
  sa.masked.add(deviceId);
  sa.examples.set(deviceId, Number(chunks[0]?.meta.examples ?? 0));
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

/** The kind of a device message, by event type. */
function kindOf(type: string): SecAggMessageKind | undefined {
  if (type === FL_SECAGG_ADVERTISE) return 'advertise';
  if (type === FL_SECAGG_SHARES) return 'shares';
  if (type === FL_SECAGG_UNMASK) return 'unmask';
  return undefined;
}

/**
 * Checks a device message against the round as stored (the phase it must arrive in, the
 * roster, the survivors), as the fl-core server would: a late message for a closed phase is
 * refused, never folded in.
 */
function checkMessage(
  round: SecAggRoundRecord,
  deviceId: string,
  kind: SecAggMessageKind,
  body: unknown,
): void {
  if (kind === 'advertise') {
    const { advertisement } = body as { advertisement: Parameters<typeof checkAdvertisement>[0] };
    if (advertisement.clientId !== deviceId) throw fail(`advertisement for ${advertisement.clientId}`);
    if (round.phase !== 'advertise') throw fail(`advertisement from ${deviceId} after the roster was fixed`);
    checkAdvertisement(advertisement);
  } else if (kind === 'shares') {
    if (round.phase !== 'share' || round.roster === null)
      throw fail(`shares from ${deviceId} outside the sharing phase`);
    checkShares(round.roster, deviceId, (body as { shares: Parameters<typeof checkShares>[2] }).shares);
  } else {
    const { response } = body as { response: Parameters<typeof checkUnmasking>[1] };
    if (response.from !== deviceId) throw fail(`unmasking for ${response.from}`);
    if (round.phase !== 'unmask' || round.survivors === null)
      throw fail(`unmasking from ${deviceId} before the survivors were fixed`);
    checkUnmasking(round.survivors, response);
  }
}

/** Whether a desired document already carries this task with this secure section. */
function carries(current: DesiredBody | undefined, task: FlTask, section: FlSecAgg): boolean {
  const published = current?.federated?.task;
  return (
    published?.id === task.id &&
    published.round === task.round &&
    JSON.stringify(published.secagg) === JSON.stringify(section)
  );
}

/** Collaborators of {@link SecureRounds}. */
export interface SecureRoundsDeps {
  store: SecureStore;
  desired: DesiredService;
  log: Logger;
  now: () => number;
}

const keyOf = (taskId: string, round: number) => `${taskId}/${round}`;

/**
 * The secure rounds of a hub, kept in the store at every protocol step so that any hub process
 * can finish a round another one started (a restart, or the `federated` lease moving to
 * another replica):
 *
 * - **open**: the round's row and its protocol state (phase `advertise`, parameters, the task
 *   as published) in one transaction;
 * - **device messages** (advertisement, sealed key shares, unmasking answer), on whichever
 *   replica the broker hands them to: each is checked against the round as stored and stored,
 *   numbered, in one transaction holding the round's row; a resend or re-filing is a duplicate;
 * - **phase ends** (roster, U2, U3), by the driving replica: stored with the phase as a
 *   compare-and-set on the phase and the last message number the driver read, then published
 *   to the devices; a driver that lost the race rebuilds from the store;
 * - **masked inputs** are the round's update chunks, filed like any update;
 * - a driver without the round in memory (restarted, or new) rebuilds it from the store —
 *   advertisements, roster, shares, U2, the survivors' masked inputs, U3, unmasking answers —
 *   and publishes the current phase again to the devices still in it (unchanged documents are
 *   left alone), in case the previous driver died between storing a phase and publishing it;
 * - once the round ended, its protocol state is deleted.
 *
 * The hub keeps no secret of the protocol: all of this is what its server side sees anyway.
 */
export class SecureRounds {
  readonly #d: SecureRoundsDeps;
  readonly #rounds = new Map<string, SecAggRound>();

  constructor(deps: SecureRoundsDeps) {
    this.#d = deps;
  }

  /**
   * Opens a secure round (its `fl_rounds` row and protocol state, together) and returns it in
   * phase `advertise`; when the round exists already (another replica opened it), the stored
   * one.
   */
  async open(round: FlRoundRecord, task: FlTask, spec: FlTaskSpec): Promise<SecAggRound> {
    const s = spec.secagg as NonNullable<FlTaskSpec['secagg']>;
    const sa = new SecAggRound(
      task,
      secureParams(spec, round.round, round.selected.length),
      s.maxExamples,
      round.openedAt,
    );
    const opened = await this.#d.store.openSecAggRound(round, {
      phase: sa.phase,
      phaseAt: sa.phaseAt,
      params: sa.server.params,
      maxExamples: sa.maxExamples,
      task,
    });
    for (const key of this.#rounds.keys()) if (key.startsWith(`${round.taskId}/`)) this.#rounds.delete(key);
    await this.#d.store.pruneSecAggRounds();
    if (opened) {
      this.#rounds.set(keyOf(round.taskId, round.round), sa);
      return sa;
    }
    const stored = await this.load(round);
    if (typeof stored === 'string' || stored === undefined)
      throw new Error(`round ${round.taskId}/${round.round} exists without its secure state`);
    return stored;
  }

  /**
   * Takes a device's secure-aggregation message (`fl.secagg.*` event body), on any replica:
   * `duplicate` when already taken. Throws naming why it does not fit (no such round in
   * progress, wrong phase, not in the roster or the survivors, bad schema).
   */
  async receive(deviceId: string, type: string, body: unknown): Promise<'stored' | 'duplicate'> {
    const kind = kindOf(type);
    if (kind === undefined) throw fail(`unknown secure aggregation message ${type}`);
    const parsed =
      kind === 'advertise'
        ? FlSecAggAdvertiseEventSchema.parse(body)
        : kind === 'shares'
          ? FlSecAggSharesEventSchema.parse(body)
          : FlSecAggUnmaskEventSchema.parse(body);
    return this.#d.store.addSecAggMessage(
      { taskId: parsed.task, round: parsed.round, deviceId, kind, body: parsed, at: this.#d.now() },
      (round) => checkMessage(round, deviceId, kind, parsed),
    );
  }

  /**
   * The round as the store holds it now, for a step of the driving replica: the copy in
   * memory fed with the messages taken since, or rebuilt from the store (and its phase
   * published again). Undefined when the store has no secure state for it (opened by a hub
   * that kept it in memory); a string saying why when what is stored cannot be replayed.
   */
  async load(round: FlRoundRecord): Promise<SecAggRound | string | undefined> {
    const { store } = this.#d;
    const key = keyOf(round.taskId, round.round);
    const state = await store.getSecAggRound(round.taskId, round.round);
    if (state === undefined) {
      this.#rounds.delete(key);
      return undefined;
    }
    const held = this.#rounds.get(key);
    if (held !== undefined && !held.stale && held.phase === state.phase && held.seq <= state.seq) {
      const messages = await store.listSecAggMessages(round.taskId, round.round, held.seq);
      try {
        protocol(() => {
          for (const m of messages) held.take(m);
        });
        return held;
      } catch (err) {
        held.stale = true;
        this.#d.log.warn(
          { err, task: round.taskId, round: round.round },
          'secure round rebuilt from the store',
        );
      }
    }
    this.#rounds.delete(key);
    let sa: SecAggRound;
    try {
      sa = await this.#rebuild(state);
    } catch (err) {
      if (err instanceof SecureFailure)
        return `secure round cannot be resumed from the store: ${err.message}`;
      throw err;
    }
    this.#rounds.set(key, sa);
    logPhase(this.#d.log, round.taskId, round.round, sa.phase, {
      resumed: true,
      advertised: sa.advertised.size,
      shared: sa.shared.size,
      masked: sa.masked.size,
      unmasked: sa.unmasked.size,
    });
    await this.#publish(sa, sa.devicesOfPhase(round.selected));
    return sa;
  }

  /** Ends a round: `close` stores its outcome, then its protocol state is deleted. */
  async end(round: FlRoundRecord, close: () => Promise<void>): Promise<void> {
    this.#rounds.delete(keyOf(round.taskId, round.round));
    await close();
    try {
      await this.#d.store.pruneSecAggRounds();
    } catch (err) {
      this.#d.log.warn(
        { err, task: round.taskId },
        'secure round state not deleted yet; retried at the next round',
      );
    }
  }

  /** Publishes the round's current phase to `devices` (documents that carry it already are left alone). */
  async #publish(sa: SecAggRound, devices: readonly string[]): Promise<void> {
    await this.#d.desired.update(devices, (current, id) => {
      const section = sa.sectionFor(id);
      return carries(current, sa.task, section) ? null : withTask(current, { ...sa.task, secagg: section });
    });
  }

  /** A round from its stored state: every step replayed in protocol order. */
  async #rebuild(state: SecAggRoundRecord): Promise<SecAggRound> {
    const { store } = this.#d;
    const sa = new SecAggRound(state.task, state.params, state.maxExamples, state.phaseAt);
    const messages = await store.listSecAggMessages(state.taskId, state.round);
    const replay = (kind: SecAggMessageKind) =>
      protocol(() => {
        for (const m of messages) if (m.kind === kind) sa.take(m);
      });
    const same = (what: string, fixed: () => readonly string[], stored: readonly string[]) =>
      protocol(() => {
        if (fixed().join('\n') !== stored.join('\n'))
          throw fail(`the stored ${what} is not what the stored messages give`);
      });
    replay('advertise');
    if (state.roster !== null) {
      const roster = state.roster;
      same(
        'roster',
        () => sa.server.roster().map((r) => r.clientId),
        roster.map((r) => r.clientId),
      );
    }
    replay('shares');
    if (state.submitted !== null) same('U2', () => sa.server.submitted(), state.submitted);
    if (state.survivors !== null) {
      for (const id of state.survivors) await takeMaskedInput(store, sa, id);
      same('U3', () => sa.server.survivors(), state.survivors);
    }
    replay('unmask');
    sa.phase = state.phase;
    sa.seq = Math.max(sa.seq, ...messages.map((m) => m.seq));
    return sa;
  }
}

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
 * update chunks (filed like any update). At the end the survivors' sum becomes the new global
 * model (fl-core's `globalFromSecureSum`; a fine-tuning task's sum covers its trainable
 * tensors, merged into the full model).
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

async function advance(
  deps: SecureStepDeps,
  sa: SecAggRound,
  round: FlRoundRecord,
  phase: Phase,
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
  const base = sa.task;
  await deps.desired.update(devices, (current, id) =>
    withTask(current, { ...base, secagg: sa.sectionFor(id) }),
  );
  logPhase(deps.log, round.taskId, round.round, phase, { devices: devices.length });
  return { kind: 'wait' };
}
