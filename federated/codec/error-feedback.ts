import type { ClipResult, EncodeOptions, ModelWeights } from '../types.js';
import { sameShapes } from '../weights.js';
import { clipL2 } from './clip.js';
import { decodeUpdate } from './decode.js';
import { encodeUpdate } from './encode.js';

/** What {@link compressWithFeedback} returns. */
export interface FeedbackResult {
  /** The update on the wire (`encodeUpdate` of delta + residual). */
  encoded: Uint8Array;
  /** What the receiver decodes from `encoded`. */
  sent: ModelWeights;
  /** (delta + residual, clipped) − sent: what compression left out, to add to the next round's delta. */
  residual: ModelWeights;
  /** The clipping of delta + residual to `clipNorm` (norm before clipping, whether it was clipped). */
  clip: Omit<ClipResult, 'delta'>;
}

/**
 * Compression with error feedback (Seide et al. 2014; Karimireddy et al. 2019, "EF-SGD"):
 * the part of the update a lossy codec drops this round (int8 rounding, the entries top-k
 * leaves out) is carried on the device and added to the next round's delta, so nothing is
 * lost for good, only delayed. `residual` is the previous result's residual (undefined in the
 * first round, or when its shapes no longer match the model: it is then ignored). delta +
 * residual is clipped to `clipNorm` before it is encoded, so what is sent keeps the norm bound
 * the hub checks (what clipping removes is not carried: that is the clipping's purpose). With
 * `compression: 'none'` the residual is all zeros. Throws like `encodeUpdate` and `clipL2`.
 */
export function compressWithFeedback(
  delta: ModelWeights,
  residual: ModelWeights | undefined,
  options: EncodeOptions & { clipNorm: number },
): FeedbackResult {
  const carried = residual !== undefined && sameShapes(residual, delta);
  const corrected = delta.map((t, i) => {
    const values = t.values.slice();
    if (carried) {
      const r = (residual[i] as { values: Float32Array }).values;
      for (let k = 0; k < values.length; k++) values[k] = (values[k] as number) + (r[k] as number);
    }
    return { name: t.name, shape: [...t.shape], values };
  });
  const clip = clipL2(corrected, options.clipNorm);
  const encoded = encodeUpdate(clip.delta, {
    compression: options.compression ?? 'none',
    ...(options.topkFraction !== undefined ? { topkFraction: options.topkFraction } : {}),
  });
  const sent = decodeUpdate(encoded, clip.delta);
  const left = clip.delta.map((t, i) => {
    const s = (sent[i] as { values: Float32Array }).values;
    const values = t.values;
    for (let k = 0; k < values.length; k++) values[k] = (values[k] as number) - (s[k] as number);
    return t;
  });
  return { encoded, sent, residual: left, clip: { norm: clip.norm, clipped: clip.clipped } };
}
