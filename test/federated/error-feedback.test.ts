import assert from 'node:assert/strict';
import { it } from 'node:test';
import { compressWithFeedback, type ModelWeights, mulberry32 } from '../../federated/index.js';

// Error feedback: what a lossy codec drops in one round is added to the next round's update,
// so over many rounds the device sends (almost) everything it computed.

const N = 200;
function delta(seed: number): ModelWeights {
  const random = mulberry32(seed);
  return [{ name: 'w', shape: [N], values: Float32Array.from({ length: N }, () => random() - 0.5) }];
}
const vals = (w: ModelWeights) => (w[0] as { values: Float32Array }).values;

function totalError(rounds: number, feedback: boolean, compression: 'topk' | 'int8'): number {
  const computed = new Float64Array(N);
  const sent = new Float64Array(N);
  let residual: ModelWeights | undefined;
  for (let r = 0; r < rounds; r++) {
    const d = delta(r + 1);
    vals(d).forEach((x, k) => {
      computed[k] = (computed[k] as number) + x;
    });
    const out = compressWithFeedback(d, residual, { compression, topkFraction: 0.1, clipNorm: 1e6 });
    vals(out.sent).forEach((x, k) => {
      sent[k] = (sent[k] as number) + x;
    });
    residual = feedback ? out.residual : undefined;
  }
  let sq = 0;
  for (let k = 0; k < N; k++) sq += ((computed[k] as number) - (sent[k] as number)) ** 2;
  return Math.sqrt(sq);
}

it('top-k with feedback: sent + residual is exactly what was computed, and the gap stays bounded', () => {
  let residual: ModelWeights | undefined;
  const d = delta(7);
  const first = compressWithFeedback(d, residual, { compression: 'topk', topkFraction: 0.1, clipNorm: 1e6 });
  assert.equal(vals(first.sent).filter((x) => x !== 0).length, 20);
  vals(d).forEach((x, k) => {
    assert.equal((vals(first.sent)[k] as number) + (vals(first.residual)[k] as number), x);
  });
  residual = first.residual;
  const second = compressWithFeedback(delta(8), residual, {
    compression: 'topk',
    topkFraction: 0.1,
    clipNorm: 1e6,
  });
  // Round 2 sends the largest of (delta 2 + what round 1 left out).
  const corrected = vals(delta(8)).map((x, k) => x + (vals(first.residual)[k] as number));
  vals(second.sent).forEach((x, k) => {
    if (x !== 0) assert.equal(x, corrected[k]);
  });
  const without = totalError(40, false, 'topk');
  const withFeedback = totalError(40, true, 'topk');
  assert.ok(withFeedback < without / 3, `gap with feedback ${withFeedback}, without ${without}`);
});

it('int8 with feedback: the rounding error does not accumulate over rounds', () => {
  const without = totalError(60, false, 'int8');
  const withFeedback = totalError(60, true, 'int8');
  assert.ok(withFeedback < without / 2, `gap with feedback ${withFeedback}, without ${without}`);
});

it('delta + residual is clipped before encoding; a residual of another shape is ignored', () => {
  const big: ModelWeights = [{ name: 'w', shape: [2], values: Float32Array.from([3, 4]) }];
  const out = compressWithFeedback(big, undefined, { compression: 'int8', clipNorm: 1 });
  assert.equal(out.clip.norm, 5);
  assert.equal(out.clip.clipped, true);
  const norm = Math.hypot(...vals(out.sent));
  assert.ok(norm <= 1.01, `sent norm ${norm}`);
  const stale: ModelWeights = [{ name: 'w', shape: [3], values: Float32Array.from([9, 9, 9]) }];
  const fresh = compressWithFeedback(big, stale, { compression: 'none', clipNorm: 10 });
  assert.deepEqual([...vals(fresh.sent)], [3, 4]);
  assert.deepEqual([...vals(fresh.residual)], [0, 0]);
  assert.throws(
    () => compressWithFeedback(big, undefined, { compression: 'topk', topkFraction: 2, clipNorm: 1 }),
    /topkFraction/,
  );
});
