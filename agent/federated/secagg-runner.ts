import type Database from 'better-sqlite3';
import type { Logger } from 'pino';
import { chunk, SecAggClient, secureInput } from '../../federated/index.js';
import {
  FL_CHUNK_BYTES,
  FL_SECAGG_ADVERTISE,
  FL_SECAGG_SHARES,
  FL_SECAGG_UNMASK,
  type FlTask,
} from '../../shared/messages/federated.js';
import type { AgentEvent } from '../types.js';
import { type AnsweredPhase, type SecAggRecord, SecAggState, type TrainedInput } from './secagg-state.js';
import { chunkEvents, uploadEvent } from './update-events.js';
import type { UpdateUploader } from './uploader.js';

export type { TrainedInput } from './secagg-state.js';

/** Stages and records uploads (the device takes weights as artifacts). */
export type SecureUploads = Pick<UpdateUploader, 'stage' | 'record'>;

/** What {@link SecAggRunner} needs. */
export interface SecAggRunnerOptions {
  deviceId: string;
  /** The agent store: the rounds in progress are kept in it (`fl_secagg`). */
  db: Database.Database;
  /** Enqueues events durably; in the agent, into the outbox of the same database. */
  enqueue(events: AgentEvent[]): void;
  log: Logger;
  uploads?: SecureUploads | undefined;
  now?: () => number;
}

const ORDER: readonly string[] = ['advertise', 'share', 'mask', 'unmask'];

/**
 * The device side of secure aggregation: follows the phase the hub announces in the task and
 * answers each once — `advertise` (public keys, after training), `share` (sealed key shares
 * for the roster), `mask` (the masked weighted delta as the round's update: uploaded in parts
 * when the task gave the weights as an artifact — staged on disk and recorded with its
 * `fl.update.upload` event, sent by the uploader after the commit — else as chunk events),
 * `unmask` (the shares that remove the survivors' self masks and the dropped clients' pair
 * masks). Each answer is enqueued in one transaction with the round's stored state
 * ({@link SecAggState}: the client's keys, seed and shares, the phase answered), so a device
 * that restarts mid-round resumes it with the keys the hub holds and never answers a phase
 * twice. The round's state goes when it ends here (unmasking sent, or left out) or when the
 * task moves on ({@link prune}).
 */
export class SecAggRunner {
  readonly #o: SecAggRunnerOptions;
  readonly #state: SecAggState;
  readonly #now: () => number;

  constructor(options: SecAggRunnerOptions) {
    this.#o = options;
    this.#state = new SecAggState(options.db);
    this.#now = options.now ?? Date.now;
  }

  /** True when this round's training already happened (its state is held). */
  has(task: FlTask): boolean {
    return this.#state.get(task.id, task.round) !== undefined;
  }

  /** Keeps the state of `current`'s round only (none when no task): the others ended or moved on. */
  prune(current: FlTask | undefined): void {
    const gone = this.#state.prune(current && { taskId: current.id, round: current.round });
    if (gone > 0) this.#o.log.info({ rounds: gone }, 'secure aggregation: state of ended rounds deleted');
  }

  /** Holds the trained input of a round and advertises (phase `advertise`), in one transaction. */
  start(task: FlTask, input: TrainedInput): void {
    const s = task.secagg;
    if (s === undefined) return;
    const client = new SecAggClient(this.#o.deviceId, s.params);
    this.#o.db.transaction(() => {
      this.#o.enqueue([
        {
          type: FL_SECAGG_ADVERTISE,
          lane: 'learning',
          body: { task: task.id, round: task.round, advertisement: client.advertise() },
        },
      ]);
      const record = { taskId: task.id, round: task.round, phase: 'advertise' as const };
      this.#state.create({ ...record, client: client.exportState() }, input, this.#now());
    })();
    this.#o.log.debug({ task: task.id, round: task.round }, 'secure aggregation: keys advertised');
  }

  /**
   * Answers the task's current phase unless answered already, in one transaction with the
   * round's state. True when the round is finished here (unmasking sent, or left out).
   */
  step(task: FlTask): boolean {
    const s = task.secagg;
    const saved = s && this.#state.get(task.id, task.round);
    if (s === undefined || saved === undefined) return false;
    const at = ORDER.indexOf(s.phase);
    const answered = ORDER.indexOf(saved.phase);
    if (at <= answered) return false;
    if (at > answered + 1) return this.#out(task, `phase ${ORDER[answered + 1]} passed without this device`);
    const client = new SecAggClient(this.#o.deviceId, s.params, saved.client);
    let finished = false;
    this.#o.db.transaction(() => {
      finished = this.#answer(task, client, saved);
    })();
    return finished;
  }

  #answer(task: FlTask, client: SecAggClient, saved: SecAggRecord): boolean {
    const s = task.secagg as NonNullable<FlTask['secagg']>;
    const head = { task: task.id, round: task.round };
    const lane = 'learning' as const;
    const me = this.#o.deviceId;
    if (s.phase === 'share') {
      const mine = s.roster?.find((r) => r.clientId === me);
      if (mine === undefined) return this.#out(task, 'not in the roster');
      const ad = client.advertise();
      if (mine.encPublicKey !== ad.encPublicKey || mine.maskPublicKey !== ad.maskPublicKey)
        return this.#out(task, 'the roster holds other keys for this device');
      this.#o.enqueue([
        { type: FL_SECAGG_SHARES, lane, body: { ...head, shares: client.shareKeys(s.roster ?? []) } },
      ]);
    } else if (s.phase === 'mask') {
      if (!s.submitted?.includes(me)) return this.#out(task, 'my shares did not arrive in time');
      const input = this.#state.input(task.id, task.round);
      if (input === undefined) return this.#out(task, 'the trained input is gone');
      const values = secureInput(input.delta, Math.min(input.examples, s.maxExamples), s.maxExamples);
      const masked = client.maskedInput(values, s.inbox ?? [], s.submitted);
      const bytes = new Uint8Array(masked.buffer, masked.byteOffset, masked.byteLength);
      const uploads = this.#o.uploads;
      if (task.weightsArtifact !== undefined && uploads !== undefined) {
        // The masked words are the upload's bytes; the event is enqueued with its record.
        const staged = uploads.stage(task.id, task.round, bytes);
        this.#o.enqueue([uploadEvent(task, staged, input)]);
        uploads.record(staged, this.#now());
      } else {
        this.#o.enqueue(chunkEvents(task, chunk(bytes, FL_CHUNK_BYTES), input));
      }
    } else {
      if (!s.survivors?.includes(me)) return this.#out(task, 'my masked input did not arrive in time');
      this.#o.enqueue([
        { type: FL_SECAGG_UNMASK, lane, body: { ...head, response: client.unmask(s.survivors) } },
      ]);
      this.#state.delete(task.id, task.round);
      this.#o.log.info({ task: task.id, round: task.round }, 'secure aggregation: unmasking sent');
      return true;
    }
    const phase = s.phase as AnsweredPhase;
    this.#state.advance({ ...saved, phase, client: client.exportState() }, this.#now());
    this.#o.log.debug({ task: task.id, round: task.round, phase }, 'secure aggregation step sent');
    return false;
  }

  #out(task: FlTask, why: string): boolean {
    this.#o.log.warn({ task: task.id, round: task.round, why }, 'secure aggregation: left out of the round');
    this.#state.delete(task.id, task.round);
    return true;
  }
}
