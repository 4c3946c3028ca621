import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { decodeUpdate } from '../../federated/index.js';
import type { Hub } from '../../hub/index.js';
import { tempDir, waitFor } from '../helpers/agent.js';
import { Cleanups } from '../helpers/fixtures.js';
import { api, startHub } from '../helpers/hub.js';
import { initialModel, startFlHub, taskBody, taskEnded } from './fleet.js';

// Secure aggregation of a fine-tuning task: the devices mask only the trainable layer's
// delta (plus the weight), the hub unmasks that sum and merges it into the full model, whose
// frozen layer stays bit-identical.

describe('secure aggregation of a fine-tuning task', () => {
  const cleanups = new Cleanups();
  after(async () => {
    await cleanups.run();
  });

  it('masks and sums the last layer only; the frozen layer is unchanged', async () => {
    const { hub } = await startFlHub(
      [
        [0, 1, 2, 3, 4],
        [5, 6, 7, 8, 9],
      ],
      cleanups,
      undefined,
      // The masked inputs are read after the round: the hub keeps update bytes.
      { federated: { retention: { keepUpdateBytes: true } } },
    );
    await waitFor(
      async () => (await hub.store.listDevices()).filter((d) => d.online).length === 2,
      'two online',
    );
    const model = initialModel();
    const body = taskBody(model, {
      id: 'secure-head',
      rounds: 1,
      minClients: 2,
      evaluate: false,
      trainableLayers: { last: 1 },
      secagg: { threshold: 2, maxExamples: 200 },
    });
    const res = await api(hub, 'POST', '/v1/federated/tasks', body);
    assert.equal(res.status, 201, JSON.stringify(res.body));
    const task = await taskEnded(hub, 'secure-head', 'the task to finish', 50_000);
    assert.equal(task.status, 'done', JSON.stringify(task));
    const [round] = (await api(hub, 'GET', '/v1/federated/tasks/secure-head/rounds')).body.rounds;
    assert.equal(round.metrics.accepted, 2, JSON.stringify(round.metrics));
    // Each masked input is the last layer's 16×10 + 10 values and the weight: nothing of the base.
    for (const id of round.selected) {
      const chunks = await hub.store.getFlChunks('secure-head', 1, id);
      assert.equal(chunks.reduce((n, c) => n + c.bytes.byteLength, 0) / 4, 16 * 10 + 10 + 1);
    }
    const shapes = model.weights.map((w) => ({ name: w.name, shape: w.shape }));
    const final = decodeUpdate(
      Buffer.from((await api(hub, 'GET', '/v1/federated/tasks/secure-head/weights')).body.weights, 'base64'),
      shapes,
    );
    const changed = final
      .filter((t, i) => t.values.some((v, k) => v !== (model.weights[i]?.values[k] as number)))
      .map((t) => t.name);
    assert.deepEqual(changed, ['dense_1/kernel', 'dense_1/bias']);
  });

  it('refuses trainableLayers that name no layer with weights, naming them', async () => {
    const dir = tempDir('outpost-fl-hub-');
    cleanups.push(() => dir.remove());
    const hub: Hub = await startHub(dir.path);
    cleanups.push(() => hub.close());
    const model = initialModel();
    const res = await api(
      hub,
      'POST',
      '/v1/federated/tasks',
      taskBody(model, { trainableLayers: ['dense_7'] }),
    );
    assert.equal(res.status, 400);
    assert.equal(res.body.error.code, 'FL_BAD_PARAMS');
    assert.match(
      res.body.error.message,
      /trainableLayers: no layer dense_7; the layers with weights are dense_0, dense_1/,
    );
    const far = await api(
      hub,
      'POST',
      '/v1/federated/tasks',
      taskBody(model, { trainableLayers: { last: 3 } }),
    );
    assert.equal(far.status, 400);
    assert.match(far.body.error.message, /last 3; the model has 2 layers with weights/);
  });
});
