import type { Logger } from 'pino';
import { sha256Hex } from '../../federated/index.js';
import { type FlTask, MAX_EMBEDDED_WEIGHTS_CHARS } from '../../shared/messages/federated.js';
import type { DesiredService } from '../desired/desired-service.js';
import type { FlRoundRecord, FlTaskRecord } from '../store/federated-types.js';
import type { HubStore } from '../store/types.js';
import { roundWeights } from './round-close.js';
import type { SecureRounds } from './secagg-persistence.js';
import type { SecAggRound, SecureTask } from './secagg-round.js';
import { withoutTask, withTask } from './sections.js';
import { selectClients } from './selection.js';
import type { FlTaskSpec } from './task-spec.js';
import { updateTensorNames } from './update-tensors.js';
import type { FlWeightsArtifacts } from './weights-artifacts.js';

/** Prefix of a running task's `reason` while its next round waits for devices. */
export const WAITING_FOR_DEVICES = 'waiting for devices';

/** What opening a round needs. */
export interface RoundOpenDeps {
  store: HubStore;
  desired: DesiredService;
  log: Logger;
  now: () => number;
  /** Global weights as artifacts; absent: every task embeds its weights. */
  weights?: FlWeightsArtifacts | undefined;
}

/** Whether a device's reported state says it takes a round's weights as artifacts. */
export function takesArtifacts(reported: unknown): boolean {
  const federated = (reported as { federated?: { artifacts?: unknown } } | null | undefined)?.federated;
  return federated?.artifacts === true;
}

/**
 * Opens the task's next round: selects the clients among the eligible
 * online devices (too few: the round waits, and the task's `reason` says why), records the
 * round and publishes the task in each selected device's desired state, in the form the
 * device takes: a signed reference to the round's global artifact for devices that report
 * `federated.artifacts` (the artifact is stored then, its SHA-256 kept in the round's
 * metrics), the weights embedded for the others. Weights too large to embed leave the others
 * out of the selection. A secure round does the same (its devices then upload their masked
 * inputs, or send them as chunk events when given the embedded form). Devices of an earlier
 * round that are not selected stop training for the task.
 * Returns the secure round when the task asks for one, else undefined.
 */
export async function openRound(
  d: RoundOpenDeps,
  task: FlTaskRecord,
  spec: FlTaskSpec,
  secure: SecureRounds,
): Promise<SecAggRound | undefined> {
  const { store, now, log } = d;
  const bytes = await roundWeights(store, task.id, task.round);
  const fits = Math.ceil(bytes.byteLength / 3) * 4 <= MAX_EMBEDDED_WEIGHTS_CHARS;
  const artifacts = d.weights;
  const devices = await store.listDevices();
  const capable = new Set(
    artifacts === undefined ? [] : devices.filter((x) => takesArtifacts(x.reported)).map((x) => x.id),
  );
  const candidates = fits ? devices : devices.filter((x) => capable.has(x.id));
  const pick = selectClients(candidates, { ...spec, seed: spec.seed, round: task.round });
  if (pick.selected === null) {
    // Why the task waits goes into its record (`fl status`, the API, every replica), once.
    const only = fits ? '' : ' (the weights are too large to embed: only devices that take artifacts count)';
    const reason = `${WAITING_FOR_DEVICES}: ${pick.reason}${only}`;
    if (task.reason !== reason) {
      log.warn({ task: task.id, round: task.round }, `${pick.reason}${only}`);
      await store.updateFlTask(task.id, { reason });
    }
    return undefined;
  }
  if (task.reason?.startsWith(WAITING_FOR_DEVICES)) await store.updateFlTask(task.id, { reason: null });
  const opened = now();
  const deadline = opened + spec.deadlineS * 1000;
  const updateTensors = updateTensorNames(spec);
  const base: Omit<FlTask, 'weights' | 'weightsDigest' | 'weightsArtifact'> = {
    id: task.id,
    round: task.round,
    mode: spec.mode,
    model: spec.model,
    topology: spec.topology,
    shapes: spec.shapes,
    lr: spec.lr,
    epochs: spec.epochs,
    batchSize: spec.batchSize,
    ...(spec.strategy === 'fedprox' ? { proxMu: Number(spec.strategyParams.mu ?? 0) } : {}),
    clipNorm: spec.clipNorm,
    compression: spec.compression,
    deadline,
    evaluate: spec.evaluate,
    seed: spec.seed,
    ...(updateTensors ? { updateTensors } : {}),
  };
  const byArtifact = pick.selected.filter((id) => capable.has(id));
  // Only when some device takes it (a 20 MB model is 27 MB of base64).
  let embedded: FlTask | undefined;
  const asEmbedded = (): FlTask => {
    embedded ??= { ...base, weights: Buffer.from(bytes).toString('base64'), weightsDigest: sha256Hex(bytes) };
    return embedded;
  };
  const ref =
    artifacts !== undefined && byArtifact.length > 0
      ? await artifacts.publish(task.id, task.round, bytes)
      : undefined;
  const forDevice = (id: string): FlTask =>
    ref !== undefined && capable.has(id) ? { ...base, weightsArtifact: ref } : asEmbedded();
  const record: FlRoundRecord = {
    taskId: task.id,
    round: task.round,
    status: 'open',
    selected: pick.selected,
    openedAt: opened,
    deadline,
    closedAt: null,
    metrics: {
      eligible: pick.eligible,
      ...(ref ? { weights: { sha256: ref.sha256, size: ref.size, devices: byArtifact.length } } : {}),
    },
  };
  // A secure round's protocol state is stored with its round row (a restart resumes it).
  let sa: SecAggRound | undefined;
  if (spec.secagg) {
    // Both forms, as each device is given one; the embedded weights only when some take them.
    const embeds = ref === undefined || byArtifact.length < pick.selected.length;
    const stored: SecureTask = {
      ...(embeds ? asEmbedded() : base),
      ...(ref !== undefined ? { weightsArtifact: ref, artifactDevices: byArtifact } : {}),
    };
    sa = await secure.open(record, stored, spec);
  } else await store.openFlRound(record);
  const secureRound = sa;
  await d.desired.update(pick.selected, (current, id) =>
    withTask(current, secureRound ? secureRound.taskFor(id) : forDevice(id)),
  );
  // Devices of an earlier round that are not in this one stop training for the task.
  const selected = new Set(pick.selected);
  const others = (await store.listDesired())
    .filter((x) => x.desired.federated?.task.id === task.id && !selected.has(x.deviceId))
    .map((x) => x.deviceId);
  if (others.length > 0) await d.desired.update(others, (current) => withoutTask(current, task.id));
  await artifacts?.prune(task.id);
  log.info(
    { task: task.id, round: task.round, selected: pick.selected, byArtifact: byArtifact.length, deadline },
    'federated round opened',
  );
  return sa;
}
