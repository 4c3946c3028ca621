import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { decodeUpdate } from '../../federated/index.js';
import { loadDigits } from '../../inference/index.js';
import { tempDir, waitFor } from '../helpers/agent.js';
import { Cleanups } from '../helpers/fixtures.js';
import { api, enroll } from '../helpers/hub.js';
import {
  assertSecureMatchesPlain,
  type FleetDevice,
  initialModel,
  postDigits,
  sliceDigits,
  startAgent,
  startFlHub,
  taskBody,
  taskEnded,
  waitForArtifactDevices,
} from './fleet.js';

// Secure aggregation producing the same sum as plain aggregation. The
// same four devices run one plain FedAvg round and one secure round from the same model
// with the same seed (the devices' training is seeded by task seed, device and round): the
// two new global models agree within the fixed-point resolution. Three devices take weights
// as artifacts (they upload their masked inputs in parts), the fourth cannot (no hub HTTP URL
// or keys: the weights embedded, its masked input as chunk events), in the same round.

describe('secure aggregation in a real round', () => {
  const cleanups = new Cleanups();
  after(async () => {
    await cleanups.run();
  });

  it('gives the same new model as plain FedAvg, and the hub never holds a plain update', async () => {
    const { hub } = await startFlHub(
      [
        [0, 1, 2, 3],
        [4, 5, 6],
        [7, 8, 9],
      ],
      cleanups,
      undefined,
      // The masked inputs are read after the round: the hub keeps update bytes.
      { federated: { retention: { keepUpdateBytes: true } } },
    );
    const dir = tempDir('outpost-fl-embedded-');
    cleanups.push(() => dir.remove());
    const embedded: FleetDevice = {
      creds: await enroll(hub, { name: 'fl-embedded' }),
      dataDir: dir.path,
      agent: undefined,
    };
    cleanups.push(() => embedded.agent?.close());
    await postDigits(
      await startAgent(embedded, hub.mqtt.url),
      sliceDigits(loadDigits(20, 0), [1, 8]),
      'train',
    );
    await waitForArtifactDevices(hub, 3);
    await waitFor(
      async () => (await hub.store.listDevices()).filter((d) => d.online).length === 4,
      'four online',
    );
    const model = initialModel();
    const common = { rounds: 1, minClients: 4, seed: 42, evaluate: false };

    assert.equal(
      (await api(hub, 'POST', '/v1/federated/tasks', taskBody(model, { ...common, id: 'plain' }))).status,
      201,
    );
    assert.equal((await taskEnded(hub, 'plain', undefined, 50_000)).status, 'done');
    const secure = taskBody(model, { ...common, id: 'secure', secagg: { threshold: 2, maxExamples: 200 } });
    const res = await api(hub, 'POST', '/v1/federated/tasks', secure);
    assert.equal(res.status, 201, JSON.stringify(res.body));
    const task = await taskEnded(hub, 'secure', undefined, 50_000);
    assert.equal(task.status, 'done', JSON.stringify(task));
    const [round] = (await api(hub, 'GET', '/v1/federated/tasks/secure/rounds')).body.rounds;
    assert.equal(round.metrics.accepted, 4, JSON.stringify(round.metrics));

    const shapes = model.weights.map((w) => ({ name: w.name, shape: w.shape }));
    const weightsOf = async (id: string) =>
      decodeUpdate(
        Buffer.from(
          (await api(hub, 'GET', `/v1/federated/tasks/${id}/weights?round=2`)).body.weights,
          'base64',
        ),
        shapes,
      );
    const plain = await weightsOf('plain');
    const masked = await weightsOf('secure');
    assertSecureMatchesPlain({
      start: model.weights,
      plain: plain,
      secure: masked,
      survivors: 4,
      examples: round.metrics.examples,
      maxExamples: 200,
    });

    // What the hub stored of each device's secure update is masked words, not its delta: an
    // upload (its event as chunk 0, no bytes) from the three that take artifacts, chunk
    // events from the fourth.
    const values = shapes.reduce((n, s) => n + s.shape.reduce((a, d) => a * d, 1), 0);
    assert.equal(round.selected.length, 4);
    for (const id of round.selected) {
      const chunks = await hub.store.getFlChunks('secure', 1, id);
      const words = chunks.reduce((n, c) => n + c.bytes.byteLength, 0) / 4;
      assert.equal(words, values + 1);
      const uploaded = chunks[0]?.meta.upload !== undefined;
      assert.equal(uploaded, id !== embedded.creds.id, `${id} uploaded: ${uploaded}`);
      if (uploaded) assert.equal(chunks[0]?.bytes.byteLength, 0);
    }
  });
});
