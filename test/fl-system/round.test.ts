import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { decodeUpdate } from '../../federated/index.js';
import type { Hub } from '../../hub/index.js';
import { tempDir, waitFor } from '../helpers/agent.js';
import { Cleanups } from '../helpers/fixtures.js';
import { api, startHub } from '../helpers/hub.js';
import { initialModel, startFleet, taskBody, taskEnded, waitForArtifactDevices } from './fleet.js';

// A real federated round across real agents and a real hub.

describe('federated rounds (sync) across three agents', () => {
  const cleanups = new Cleanups();
  after(async () => {
    await cleanups.run();
  });

  it('runs two rounds: every device trains, the hub aggregates, evaluations are stored', async () => {
    const dir = tempDir('outpost-fl-hub-');
    cleanups.push(() => dir.remove());
    // The application's own hub-side evaluator instead of the MNIST demo's.
    const evaluated: number[] = [];
    const hub: Hub = await startHub(
      dir.path,
      {},
      {
        federatedEvaluator: async (_spec, weights) => {
          evaluated.push(weights.length);
          return { accuracy: 0.5, loss: 1, count: 7 };
        },
      },
    );
    cleanups.push(() => hub.close());
    const fleet = await startFleet(
      hub,
      [
        [0, 1, 2, 3],
        [4, 5, 6],
        [7, 8, 9],
      ],
      cleanups,
    );
    await waitForArtifactDevices(hub, 3);

    const model = initialModel();
    const res = await api(
      hub,
      'POST',
      '/v1/federated/tasks',
      taskBody(model, { id: 'round-test', rounds: 2, minClients: 3, hubEval: { perClass: 1 } }),
    );
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assert.equal(res.body.status, 'running');

    const done = await taskEnded(hub, 'round-test', 'the task to finish', 50_000);
    assert.equal(done.status, 'done', JSON.stringify(done));
    const rounds = (await api(hub, 'GET', '/v1/federated/tasks/round-test/rounds')).body.rounds;
    assert.equal(rounds.length, 2);
    for (const r of rounds) {
      assert.equal(r.status, 'closed');
      assert.deepEqual(r.selected, fleet.map((d) => d.creds.id).sort());
      assert.equal(r.metrics.accepted, 3, JSON.stringify(r.metrics));
      assert.deepEqual(r.metrics.rejected, {});
      assert.equal(r.metrics.dropouts, 0);
      assert.equal(r.updates.length, 3);
      for (const u of r.updates) assert.equal(u.status, 'accepted');
      assert.equal(r.metrics.federatedEval.devices, 3);
      assert.equal(r.metrics.federatedEval.examples, 3 * 30);
      assert.deepEqual(r.metrics.hubEval, { accuracy: 0.5, loss: 1, count: 7 });
      // The agents take the round's global model as an artifact and upload their updates.
      assert.equal(r.metrics.weights.devices, 3, JSON.stringify(r.metrics.weights));
    }
    // The starting model and each round's model went through the given evaluator.
    assert.deepEqual(evaluated, [model.weights.length, model.weights.length, model.weights.length]);

    // The global model moved: round 3's weights are not round 1's.
    const shapes = model.weights.map((w) => ({ name: w.name, shape: w.shape }));
    const w1 = decodeUpdate(
      Buffer.from(
        (await api(hub, 'GET', '/v1/federated/tasks/round-test/weights?round=1')).body.weights,
        'base64',
      ),
      shapes,
    );
    const w3 = decodeUpdate(
      Buffer.from((await api(hub, 'GET', '/v1/federated/tasks/round-test/weights')).body.weights, 'base64'),
      shapes,
    );
    assert.deepEqual(w1[0]?.values, model.weights[0]?.values);
    assert.notDeepEqual(w3[0]?.values, w1[0]?.values);

    // Each device remembers what it did per round (GET /v1/federated on its local API).
    for (const d of fleet) {
      const status = (await (await fetch(`${d.agent?.api.url}/v1/federated`)).json()) as {
        rounds: Array<{ taskId: string; round: number; status: string; detail: { upload?: boolean } }>;
        uploads: unknown[];
      };
      const mine = status.rounds
        .filter((r) => r.taskId === 'round-test')
        .map((r) => [r.round, r.status, r.detail.upload]);
      assert.deepEqual(mine.sort(), [
        [1, 'submitted', true],
        [2, 'submitted', true],
      ]);
      assert.deepEqual(status.uploads, [], 'every upload finished');
    }
    // Every device was told to stop once the task finished.
    await waitFor(
      async () => (await hub.store.listDesired()).every((d) => d.desired.federated === undefined),
      'the task removed from every desired state',
    );
  });
});
