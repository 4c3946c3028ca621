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
import { chunkEvents, uploadEvent } from './update-events.js';
import type { UpdateUploader } from './uploader.js';

/** What the device trained for a secure round, kept until it masks it. */
export interface TrainedInput {
  delta: Parameters<typeof secureInput>[0];
  examples: number;
  norm: number;
  clipped: boolean;
  loss: number;
  accuracy: number;
}

interface RoundState {
  client: SecAggClient;
  input: TrainedInput;
  /** Phases already answered. */
  done: Set<string>;
}

/** Stages and records uploads (the device takes weights as artifacts). */
export type SecureUploads = Pick<UpdateUploader, 'stage' | 'record'>;

/**
 * The device side of secure aggregation for one task: follows the phase the
 * hub announces in the task and answers each once — `advertise` (public keys, after training),
 * `share` (sealed key shares for the roster), `mask` (the masked weighted delta as the round's
 * update: uploaded in parts when the task gave the weights as an artifact — staged on disk
 * and recorded with its `fl.update.upload` event in the caller's transaction, sent by the
 * uploader after it — else as chunk events), `unmask` (the shares that remove the survivors'
 * self masks and the dropped clients' pair masks). The client's secrets live in memory only: a device that
 * restarts mid-round drops out of it, which the protocol tolerates (threshold t).
 */
export class SecAggRunner {
  readonly #rounds = new Map<string, RoundState>();
  constructor(
    private readonly deviceId: string,
    private readonly enqueue: (events: AgentEvent[]) => void,
    private readonly log: Logger,
    private readonly uploads?: SecureUploads,
    private readonly now: () => number = Date.now,
  ) {}

  /** True when this round's training already happened (the input is held). */
  has(task: FlTask): boolean {
    return this.#rounds.has(`${task.id}/${task.round}`);
  }

  /** Holds the trained input of a round and advertises (phase `advertise`). */
  start(task: FlTask, input: TrainedInput): void {
    const s = task.secagg;
    if (s === undefined) return;
    const client = new SecAggClient(this.deviceId, s.params);
    this.#rounds.set(`${task.id}/${task.round}`, { client, input, done: new Set() });
    this.step(task);
  }

  /** Answers the task's current phase if not done yet. True when the round is finished here. */
  step(task: FlTask): boolean {
    const s = task.secagg;
    const state = this.#rounds.get(`${task.id}/${task.round}`);
    if (s === undefined || state === undefined || state.done.has(s.phase)) return false;
    const head = { task: task.id, round: task.round };
    const lane = 'learning' as const;
    if (s.phase === 'advertise') {
      this.enqueue([
        { type: FL_SECAGG_ADVERTISE, lane, body: { ...head, advertisement: state.client.advertise() } },
      ]);
    } else if (s.phase === 'share') {
      if (!s.roster?.some((r) => r.clientId === this.deviceId)) return this.#out(task, 'not in the roster');
      this.enqueue([
        { type: FL_SECAGG_SHARES, lane, body: { ...head, shares: state.client.shareKeys(s.roster) } },
      ]);
    } else if (s.phase === 'mask') {
      if (!s.submitted?.includes(this.deviceId)) return this.#out(task, 'my shares did not arrive in time');
      const values = secureInput(
        state.input.delta,
        Math.min(state.input.examples, s.maxExamples),
        s.maxExamples,
      );
      const masked = state.client.maskedInput(values, s.inbox ?? [], s.submitted);
      const bytes = new Uint8Array(masked.buffer, masked.byteOffset, masked.byteLength);
      if (task.weightsArtifact !== undefined && this.uploads !== undefined) {
        // The masked words are the upload's bytes; the event is enqueued with its record.
        const staged = this.uploads.stage(task.id, task.round, bytes);
        this.enqueue([uploadEvent(task, staged, state.input)]);
        this.uploads.record(staged, this.now());
      } else {
        this.enqueue(chunkEvents(task, chunk(bytes, FL_CHUNK_BYTES), state.input));
      }
    } else {
      if (!s.survivors?.includes(this.deviceId))
        return this.#out(task, 'my masked input did not arrive in time');
      this.enqueue([
        { type: FL_SECAGG_UNMASK, lane, body: { ...head, response: state.client.unmask(s.survivors) } },
      ]);
      state.done.add(s.phase);
      this.#rounds.delete(`${task.id}/${task.round}`);
      this.log.info({ task: task.id, round: task.round }, 'secure aggregation: unmasking sent');
      return true;
    }
    state.done.add(s.phase);
    this.log.debug({ task: task.id, round: task.round, phase: s.phase }, 'secure aggregation step sent');
    return false;
  }

  #out(task: FlTask, why: string): boolean {
    this.log.warn({ task: task.id, round: task.round, why }, 'secure aggregation: left out of the round');
    this.#rounds.delete(`${task.id}/${task.round}`);
    return true;
  }
}
