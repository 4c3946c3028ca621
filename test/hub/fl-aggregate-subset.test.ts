import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  applyTrainableLayers,
  buildMnistMlp,
  chunk,
  encodeUpdate,
  type ModelWeights,
  pickTensors,
} from '../../federated/index.js';
import { aggregateRound } from '../../hub/federated/aggregate-round.js';
import { type FlTaskSpec, FlTaskSpecSchema } from '../../hub/federated/task-spec.js';
import type { FederatedStore, FlChunkRecord } from '../../hub/store/federated-types.js';

// The hub's aggregation of a fine-tuning task, on updates as devices send them: the current
// release sends the trainable tensors only, a device of the previous release sends every
// tensor (it ignores `updateTensors`). Both are read; only the trainable part is applied.

const model = buildMnistMlp(4, { hidden: [8] });
const { topology } = applyTrainableLayers(model.modelTopology, { last: 1 });
const spec = {
  ...FlTaskSpecSchema.parse({ model: { name: 'digits', version: '1.0.0' }, clipNorm: 100 }),
  topology,
  shapes: model.weights.map((w) => ({ name: w.name, shape: w.shape })),
  weights: '',
} as FlTaskSpec;

/** A delta of `value` everywhere (frozen tensors included, as a careless device might send). */
const deltaOf = (value: number): ModelWeights =>
  model.weights.map((w) => ({
    name: w.name,
    shape: [...w.shape],
    values: new Float32Array(w.values.length).fill(value),
  }));

function chunksOf(deviceId: string, bytes: Uint8Array): FlChunkRecord[] {
  return chunk(bytes, 1 << 20).map((c) => ({
    taskId: 't',
    round: 1,
    deviceId,
    index: c.index,
    total: c.total,
    digest: c.digest,
    bytes: c.bytes,
    meta: { examples: 10 },
    at: 0,
  }));
}

describe('aggregating a fine-tuning round', () => {
  it('merges the mean of the trainable tensors into the full model; a full update is read and cut down', async () => {
    const head = ['dense_1/kernel', 'dense_1/bias'];
    const stored = new Map<string, FlChunkRecord[]>([
      ['new', chunksOf('new', encodeUpdate(pickTensors(deltaOf(0.1), head), { compression: 'none' }))],
      ['old', chunksOf('old', encodeUpdate(deltaOf(0.3), { compression: 'none' }))],
      ['bad', chunksOf('bad', encodeUpdate(deltaOf(0.2).slice(1), { compression: 'none' }))],
    ]);
    const store = {
      getFlChunks: async (_t: string, _r: number, deviceId: string) => stored.get(deviceId) ?? [],
    } as unknown as FederatedStore;
    const agg = await aggregateRound({
      store,
      taskId: 't',
      spec,
      round: 1,
      global: model.weights,
      serverState: null,
      pending: ['new', 'old', 'bad'].map((deviceId) => ({
        round: 1,
        deviceId,
        chunks: 1,
        total: 1,
        firstAt: 0,
      })),
      now: 0,
    });
    assert.equal(agg.accepted, 2, JSON.stringify(agg.updates));
    assert.deepEqual(agg.rejected, { decode: 1 });
    const weights = agg.weights as ModelWeights;
    assert.deepEqual(
      weights.map((w) => w.name),
      model.weights.map((w) => w.name),
    );
    weights.forEach((w, i) => {
      const before = model.weights[i]?.values as Float32Array;
      const step = head.includes(w.name) ? 0.2 : 0; // mean of 0.1 and 0.3 on the head; nothing elsewhere
      for (let k = 0; k < w.values.length; k++)
        assert.ok(Math.abs((w.values[k] as number) - (before[k] as number) - step) < 1e-6, `${w.name}[${k}]`);
    });
  });
});
