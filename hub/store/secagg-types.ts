import type { SecAggParams } from '../../federated/index.js';
import type { FlSecAgg, FlTask } from '../../shared/messages/federated.js';
import type { FlRoundRecord } from './federated-types.js';

/** The phase a secure round is in: what its devices were told to do. */
export type SecAggPhase = FlSecAgg['phase'];

/** What a device sends in a secure round, one of each kind at most. */
export type SecAggMessageKind = 'advertise' | 'shares' | 'unmask';

/** One client of the roster: its id and public keys (fl-core's `Advertisement`). */
export type SecAggRosterEntry = NonNullable<FlSecAgg['roster']>[number];

/**
 * The protocol state of one secure round (`hub/federated/secagg-round.ts`), stored with each
 * step (`hub/federated/secagg-persistence.ts`, `hub/federated/secagg-step.ts`), from which any
 * hub process can finish the round.
 */
export interface SecAggRoundRecord {
  taskId: string;
  round: number;
  phase: SecAggPhase;
  /** Hub time the phase began, ms. */
  phaseAt: number;
  /** fl-core's round parameters, as the devices were told them. */
  params: SecAggParams;
  maxExamples: number;
  /**
   * The round's task as published, without its `secagg` section: the weights embedded when
   * they fit, the signed reference to the round's global artifact when one was published, and
   * the devices given that reference (`artifactDevices`; the others get the embedded form).
   */
  task: FlTask & { artifactDevices?: string[] };
  /** Fixed when sharing began (sorted by client id); null before. */
  roster: SecAggRosterEntry[] | null;
  /** U2, the clients whose shares count, fixed when masking began; null before. */
  submitted: string[] | null;
  /** U3, the clients whose masked inputs are in the sum, fixed when unmasking began; null before. */
  survivors: string[] | null;
  /** Sequence number of the last message taken (0 before the first). */
  seq: number;
}

/** A device's message as taken: its body as validated, numbered in the order taken. */
export interface SecAggMessageRecord {
  taskId: string;
  round: number;
  deviceId: string;
  kind: SecAggMessageKind;
  seq: number;
  body: unknown;
  at: number;
}

/**
 * Secure-aggregation rounds in the store, so a round survives a hub restart and a change of
 * the replica driving rounds: every replica takes device messages (each in one transaction
 * that checks it against the round's phase), the driver advances phases (a compare-and-set
 * on phase and last message), and a new driver rebuilds the round from what is stored.
 */
export interface SecAggStore {
  /**
   * Opens a secure round: its `fl_rounds` row (as `openFlRound`) and its protocol state, in
   * one transaction. False (nothing written) when the round exists already.
   */
  openSecAggRound(
    round: FlRoundRecord,
    state: Pick<SecAggRoundRecord, 'phase' | 'phaseAt' | 'params' | 'maxExamples' | 'task'>,
  ): Promise<boolean>;
  getSecAggRound(taskId: string, round: number): Promise<SecAggRoundRecord | undefined>;
  /**
   * Takes one device message, in one transaction holding the round's row: `accept` sees the
   * round as stored and throws when the message does not fit it (phase, roster, survivors);
   * a message of a kind the device already sent is `duplicate` when identical (a resend, a
   * re-filing) and refused otherwise. Throws `FL_SECAGG_FAILED` for a round not in the store.
   */
  addSecAggMessage(
    message: Omit<SecAggMessageRecord, 'seq'>,
    accept: (round: SecAggRoundRecord) => void,
  ): Promise<'stored' | 'duplicate'>;
  /** Messages of a round taken after `afterSeq`, in the order taken. */
  listSecAggMessages(taskId: string, round: number, afterSeq?: number): Promise<SecAggMessageRecord[]>;
  /**
   * Moves a round to its next phase, fixing the roster, U2 or U3 with it, only while it is
   * still in `from.phase` with `from.seq` its last message (nothing taken since the caller
   * read it); false, and nothing written, otherwise.
   */
  advanceSecAggRound(
    taskId: string,
    round: number,
    from: { phase: SecAggPhase; seq: number },
    to: Pick<SecAggRoundRecord, 'phase' | 'phaseAt'> &
      Partial<Pick<SecAggRoundRecord, 'roster' | 'submitted' | 'survivors'>>,
  ): Promise<boolean>;
  /** Forgets the state of every secure round that is no longer open or whose task stopped. */
  pruneSecAggRounds(): Promise<number>;
}
