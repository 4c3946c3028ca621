import { createHash } from 'node:crypto';
import type {
  ChunkFn,
  ClipL2Fn,
  CompressWithFeedbackFn,
  DecodeUpdateFn,
  EncodeUpdateFn,
  EvaluateFn,
  ModelWeights,
  Samples,
  TrainLocalFn,
} from '../../federated/types.js';
import type { FlTask } from '../../shared/messages/federated.js';
import type { SampleSet } from '../store/sample-store.js';
import type { ResidualStore } from './residual-store.js';

// The pure steps of a device's round: samples for the trainer, the delta, its encoding.

/** The fl-core functions the runner uses (injected: pure library code, see `federated/`). */
export interface FlLibrary {
  trainLocal: TrainLocalFn;
  evaluate: EvaluateFn;
  clipL2: ClipL2Fn;
  encodeUpdate: EncodeUpdateFn;
  decodeUpdate: DecodeUpdateFn;
  chunk: ChunkFn;
  compressWithFeedback: CompressWithFeedbackFn;
}

export function toSamples(set: SampleSet): Samples {
  const features = set.dims.reduce((n, d) => n * d, 1);
  return { x: set.features, y: set.labels, count: set.count, features };
}

export function sub(a: ModelWeights, b: ModelWeights): ModelWeights {
  return a.map((t, i) => {
    const bv = b[i]?.values;
    if (bv === undefined || bv.length !== t.values.length)
      throw new RangeError(`tensor ${t.name} changed shape`);
    const out = new Float32Array(t.values.length);
    for (let k = 0; k < out.length; k++) out[k] = (t.values[k] as number) - (bv[k] as number);
    return { name: t.name, shape: [...t.shape], values: out };
  });
}

/**
 * The part of `delta` the task's update carries: the `updateTensors` of a fine-tuning task
 * (its trainable layers), else all of it.
 */
export function sentPart(task: FlTask, delta: ModelWeights): ModelWeights {
  const names = task.updateTensors;
  if (names === undefined) return delta;
  const wanted = new Set(names);
  const part = delta.filter((t) => wanted.has(t.name));
  if (part.length !== wanted.size)
    throw new Error(
      `task ${task.id}: the model has no tensor ${names.filter((n) => !part.some((t) => t.name === n)).join(', ')}`,
    );
  return part;
}

/** Whether the task's updates carry error feedback: lossy compression, not turned off. */
export function usesFeedback(task: FlTask): boolean {
  return task.compression.kind !== 'none' && task.compression.errorFeedback !== false;
}

/** A stable 31-bit seed from the task's seed, the device id and the round. */
export function deviceSeed(task: FlTask, deviceId: string): number {
  // Not the task id: two tasks with the same seed train alike (plain vs secure aggregation).
  const h = createHash('sha256').update(`${task.seed}:${deviceId}:${task.round}`).digest();
  return h.readUInt32LE(0) & 0x7fffffff;
}

/**
 * Clips and encodes a round's delta with the task's compression; with a lossy compression and
 * error feedback, last round's residual joins the delta and this round's is saved (it counts
 * once the round is marked: agent/federated/residual-store.ts). `feedback` says whether a
 * residual was carried (undefined without feedback).
 */
export function encodeDelta(
  lib: Pick<FlLibrary, 'clipL2' | 'encodeUpdate' | 'compressWithFeedback'>,
  residuals: ResidualStore | undefined,
  task: FlTask,
  delta: ModelWeights,
): { encoded: Uint8Array; clip: { norm: number; clipped: boolean }; feedback?: { carried: boolean } } {
  const compression = {
    compression: task.compression.kind,
    ...(task.compression.topkFraction !== undefined ? { topkFraction: task.compression.topkFraction } : {}),
  };
  if (residuals !== undefined && usesFeedback(task)) {
    // Error feedback: last round's residual joins this delta; this round's is kept.
    const carried = residuals.load(task.id, task.round, delta);
    const packed = lib.compressWithFeedback(delta, carried, { ...compression, clipNorm: task.clipNorm });
    residuals.save(task.id, task.round, packed.residual);
    return { encoded: packed.encoded, clip: packed.clip, feedback: { carried: carried !== undefined } };
  }
  const clipped = lib.clipL2(delta, task.clipNorm);
  return { encoded: lib.encodeUpdate(clipped.delta, compression), clip: clipped };
}
