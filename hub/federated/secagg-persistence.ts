/**
 * The secure rounds of a hub as kept in the store (`SecureRounds`): opening a round with its
 * protocol state, taking the devices' messages on any replica, resuming a round in another
 * hub process by rebuilding it from the store, and deleting its state once it ended. The
 * round in memory is `secagg-round.ts`; advancing it by a phase is `secagg-step.ts`.
 */
import type { Logger } from 'pino';
import { checkAdvertisement, checkShares, checkUnmasking } from '../../federated/index.js';
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
import type { SecAggMessageKind, SecAggRoundRecord, SecAggStore } from '../store/secagg-types.js';
import {
  logPhase,
  protocol,
  SecAggRound,
  SecureFailure,
  type SecureTask,
  secureParams,
  takeMaskedInput,
} from './secagg-round.js';
import { withTask } from './sections.js';
import type { FlTaskSpec } from './task-spec.js';

/** A message that does not fit its round, or a stored round that does not replay. */
const fail = (m: string) => new OutpostError('FL_SECAGG_FAILED', m);

/** The store a secure round is kept in: the round's chunks and its protocol state. */
export type SecureStore = FederatedStore & SecAggStore;

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
 * - **masked inputs** are the round's updates, filed like any update (uploaded parts or chunk
 *   events); the driver adds each complete one to its copy's running sum and drops it
 *   (`takeMaskedInput`), so its memory is one model-sized sum, not one input per device. The
 *   sum is not stored: a copy rebuilt from the store starts from zero and adds the stored
 *   inputs again, each once (the U3 fixed, or those complete in the masking phase). Storing it
 *   would mean rewriting a model-sized row with every input, in one transaction with the set
 *   of ids it holds, and two replicas racing on it; rebuilt, a sum is only ever one process's
 *   copy, whose server refuses a device already in it, and the stored chunks never change
 *   once complete (`ON CONFLICT DO NOTHING`);
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
  async open(round: FlRoundRecord, task: SecureTask, spec: FlTaskSpec): Promise<SecAggRound> {
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
      maskedBytesHeld: sa.server.maskedBytesHeld,
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
      return carries(current, sa.task, section) ? null : withTask(current, sa.taskFor(id));
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
      // The survivors' inputs, summed again from the store one at a time.
      for (const id of state.survivors) await takeMaskedInput(store, sa, id);
      same('U3', () => sa.server.survivors(), state.survivors);
    }
    replay('unmask');
    sa.phase = state.phase;
    sa.seq = Math.max(sa.seq, ...messages.map((m) => m.seq));
    return sa;
  }
}
