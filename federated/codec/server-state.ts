import { OutpostError } from '../../shared/index.js';
import type { ServerState } from '../types.js';
import type { TensorShape } from '../weights.js';
import { decodeUpdate } from './decode.js';
import { encodeUpdate } from './encode.js';

const MAGIC = 0x5353504f; // "OPSS" little-endian

/**
 * Serialises FedAdam/FedYogi server state for the round runner to persist between rounds:
 * u32 magic "OPSS" · u32 step · u32 length of m · m (update format, float32) · v.
 */
export function encodeServerState(state: ServerState): Uint8Array {
  const m = encodeUpdate(state.m);
  const v = encodeUpdate(state.v);
  const out = new Uint8Array(12 + m.length + v.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, MAGIC, true);
  view.setUint32(4, state.step, true);
  view.setUint32(8, m.length, true);
  out.set(m, 12);
  out.set(v, 12 + m.length);
  return out;
}

/** The inverse of {@link encodeServerState}, checked against the model's tensors; throws `FL_BAD_UPDATE`. */
export function decodeServerState(bytes: Uint8Array, expected: ReadonlyArray<TensorShape>): ServerState {
  if (bytes.length < 12) throw new OutpostError('FL_BAD_UPDATE', 'server state: shorter than its header');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint32(0, true) !== MAGIC) throw new OutpostError('FL_BAD_UPDATE', 'server state: bad magic');
  const mLength = view.getUint32(8, true);
  if (12 + mLength > bytes.length) throw new OutpostError('FL_BAD_UPDATE', 'server state: truncated');
  return {
    kind: 'adaptive',
    step: view.getUint32(4, true),
    m: decodeUpdate(bytes.subarray(12, 12 + mLength), expected),
    v: decodeUpdate(bytes.subarray(12 + mLength), expected),
  };
}
