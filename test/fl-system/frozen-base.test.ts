import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { decodeUpdate } from '../../federated/index.js';
import { waitFor } from '../helpers/agent.js';
import { api } from '../helpers/hub.js';
import { initialModel, startFlHub, taskBody, taskEnded } from './fleet.js';

// Fine-tuning a model's head with its base frozen, across real agents and a real hub: the
// task's topology marks the base `trainable: false`, devices train only the head, and the
// global model's base comes back bit-identical while the head moves.

describe('a task whose topology freezes the base layer', () => {
  const cleanups: Array<() => unknown> = [];
  after(async () => {
    for (const c of cleanups.reverse()) await c();
  });

  it('trains only the head: the frozen tensors of the global model do not change', async () => {
    const { hub } = await startFlHub(
      [
        [0, 1, 2, 3, 4],
        [5, 6, 7, 8, 9],
      ],
      cleanups,
    );
    await waitFor(
      async () => (await hub.store.listDevices()).filter((d) => d.online).length === 2,
      'two devices online',
    );
    const model = initialModel();
    const topology = structuredClone(model.modelTopology) as {
      config: { layers: Array<{ config: Record<string, unknown> }> };
    };
    const base = topology.config.layers[0] as { config: Record<string, unknown> };
    base.config.trainable = false;
    const res = await api(
      hub,
      'POST',
      '/v1/federated/tasks',
      taskBody({ ...model, modelTopology: topology as never }, { id: 'head-only', rounds: 1, minClients: 2 }),
    );
    assert.equal(res.status, 201, JSON.stringify(res.body));
    const done = await taskEnded(hub, 'head-only', 'the task to finish', 50_000);
    assert.equal(done.status, 'done', JSON.stringify(done));
    const shapes = model.weights.map((w) => ({ name: w.name, shape: w.shape }));
    const final = decodeUpdate(
      Buffer.from((await api(hub, 'GET', '/v1/federated/tasks/head-only/weights')).body.weights, 'base64'),
      shapes,
    );
    const changed = final
      .filter((t, i) => t.values.some((x, k) => x !== (model.weights[i]?.values[k] as number)))
      .map((t) => t.name);
    assert.deepEqual(changed, ['dense_1/kernel', 'dense_1/bias']);
  });
});
