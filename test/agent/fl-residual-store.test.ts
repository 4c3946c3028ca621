import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, it } from 'node:test';
import { RESIDUAL_DIR, ResidualStore } from '../../agent/federated/residual-store.js';
import { RoundMemory } from '../../agent/federated/round-memory.js';
import { openAgentStore } from '../../agent/store/index.js';
import { decodeUpdate, encodeUpdate, type ModelWeights } from '../../federated/index.js';
import { tempDir } from '../helpers/agent.js';

// The error-feedback residual lives in the agent's data dir across restarts, and only counts
// once the round that produced it is marked submitted in the agent store (the same
// transaction as its update chunks).

const dirs: Array<{ remove(): void }> = [];
after(() => {
  for (const d of dirs) d.remove();
});

const SHAPES = [{ name: 'w', shape: [3] }];
const weights = (...v: number[]): ModelWeights => [{ name: 'w', shape: [3], values: Float32Array.from(v) }];
const submitted = (memory: RoundMemory, taskId: string, round: number) =>
  memory.mark({ taskId, round, status: 'submitted', detail: {}, at: Date.now() });

it('a residual counts only once its round is submitted, survives a restart, and is pruned after the next', () => {
  const d = tempDir();
  dirs.push(d);
  const open = () => {
    const store = openAgentStore({ dataDir: d.path, durability: 'crash-safe' });
    const memory = new RoundMemory(store.db);
    return {
      store,
      memory,
      residuals: new ResidualStore(d.path, memory, { encode: encodeUpdate, decode: decodeUpdate }),
    };
  };
  let a = open();
  a.residuals.save('task-a', 1, weights(1, 2, 3));
  // Written but not committed (a crash before the round's transaction): not applied.
  assert.equal(a.residuals.load('task-a', 2, SHAPES), undefined);
  submitted(a.memory, 'task-a', 1);
  a.store.close();

  a = open(); // restart
  assert.deepEqual([...(a.residuals.load('task-a', 2, SHAPES)?.[0]?.values ?? [])], [1, 2, 3]);
  // Never for the round that produced it or an earlier one, another task, or another shape.
  assert.equal(a.residuals.load('task-a', 1, SHAPES), undefined);
  assert.equal(a.residuals.load('task-b', 2, SHAPES), undefined);
  assert.equal(a.residuals.load('task-a', 2, [{ name: 'w', shape: [4] }]), undefined);

  a.residuals.save('task-a', 2, weights(4, 5, 6));
  a.residuals.save('task-b', 1, weights(0, 0, 1));
  // Round 2 not yet submitted: round 3 still gets round 1's residual.
  assert.deepEqual([...(a.residuals.load('task-a', 3, SHAPES)?.[0]?.values ?? [])], [1, 2, 3]);
  submitted(a.memory, 'task-a', 2);
  assert.deepEqual([...(a.residuals.load('task-a', 3, SHAPES)?.[0]?.values ?? [])], [4, 5, 6]);
  a.residuals.prune('task-a', 2);
  assert.equal(readdirSync(join(d.path, RESIDUAL_DIR)).length, 1);
  assert.deepEqual([...(a.residuals.load('task-a', 3, SHAPES)?.[0]?.values ?? [])], [4, 5, 6]);
  a.store.close();
});
