import assert from 'node:assert/strict';
import { it } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { createStrategy, type ModelWeights } from '../../federated/index.js';

// FedAvg-family aggregation streams (memory O(model), not O(clients));
// FedMedian buffers every update (O(clients × model)) — measured in ArrayBuffer bytes,
// which count exactly the Float32Arrays a strategy keeps alive.

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const PARAMS = 250_000; // 1 MB per update
const CLIENTS = 40;

function update(i: number): ModelWeights {
  const values = new Float32Array(PARAMS);
  for (let k = 0; k < PARAMS; k += 997) values[k] = ((i % 7) - 3) * 1e-3;
  return [{ name: 'w', shape: [PARAMS], values }];
}

/**
 * ArrayBuffer bytes once garbage is really gone: V8 frees large backing stores on a background
 * thread after a GC, so on a loaded machine one reading can still count freed updates. Collect
 * and read until two readings agree (at most ~5 s).
 */
async function settledArrayBuffers(): Promise<number> {
  let previous = -1;
  for (let i = 0; i < 100; i++) {
    gc();
    await new Promise((resolve) => setTimeout(resolve, 50));
    const now = process.memoryUsage().arrayBuffers;
    if (now === previous) return now;
    previous = now;
  }
  return previous;
}

async function growthMb(name: string): Promise<number> {
  const global: ModelWeights = [{ name: 'w', shape: [PARAMS], values: new Float32Array(PARAMS) }];
  const before = await settledArrayBuffers();
  const round = createStrategy(name).begin(global, { round: 1 });
  for (let i = 0; i < CLIENTS; i++) round.add({ clientId: `c${i}`, delta: update(i), examples: 10 });
  const growth = ((await settledArrayBuffers()) - before) / 1e6;
  assert.equal(round.finish().accepted.length, CLIENTS);
  return growth;
}

it('fedavg and fedadam keep O(model) while fedmedian keeps every update', async () => {
  const model = (PARAMS * 4) / 1e6;
  // fedavg: one accumulator; fedadam: the accumulator plus its two moments (m, v).
  for (const [name, models] of [
    ['fedavg', 2.5],
    ['fedadam', 5],
  ] as const) {
    const g = await growthMb(name);
    assert.ok(
      g < models * model,
      `${name} grew ${g.toFixed(1)} MB for a ${model} MB model and ${CLIENTS} clients`,
    );
  }
  const median = await growthMb('fedmedian');
  assert.ok(median > 0.8 * CLIENTS * model, `fedmedian grew only ${median.toFixed(1)} MB`);
});
