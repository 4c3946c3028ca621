import {
  FL_UPDATE_CHUNK,
  FL_UPDATE_UPLOAD,
  type FlTask,
  type FlUpdateChunk,
  type FlUpdateUpload,
} from '../../shared/messages/federated.js';
import type { AgentEvent } from '../types.js';
import type { StagedUpload } from './uploader.js';

/** The training figures every form of an update carries. */
export interface UpdateFigures {
  examples: number;
  /** L2 norm of the delta before clipping, and whether it was clipped. */
  norm: number;
  clipped: boolean;
  loss: number;
  accuracy: number;
}

const figures = (f: UpdateFigures) => ({
  examples: f.examples,
  norm: f.norm,
  clipped: f.clipped,
  loss: f.loss,
  accuracy: Math.min(1, Math.max(0, f.accuracy)),
});

/** The `fl.update.chunk` events of an update sent in the learning lane (embedded-weights rounds). */
export function chunkEvents(
  task: FlTask,
  chunks: ReadonlyArray<{ index: number; total: number; digest: string; bytes: Uint8Array }>,
  f: UpdateFigures,
): AgentEvent[] {
  return chunks.map((c) => {
    const body: FlUpdateChunk = {
      task: task.id,
      round: task.round,
      index: c.index,
      total: c.total,
      digest: c.digest,
      bytes: Buffer.from(c.bytes).toString('base64'),
      ...figures(f),
    };
    return { type: FL_UPDATE_CHUNK, lane: 'learning', body };
  });
}

/** The `fl.update.upload` event of an update uploaded over HTTP (artifact rounds). */
export function uploadEvent(task: FlTask, staged: StagedUpload, f: UpdateFigures): AgentEvent {
  const body: FlUpdateUpload = {
    task: task.id,
    round: task.round,
    sha256: staged.sha256,
    size: staged.size,
    ...figures(f),
  };
  return { type: FL_UPDATE_UPLOAD, lane: 'learning', body };
}
