import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { layersModelFiles } from '../../hub/federated/closed-loop.js';
import { packTfjsBundle } from '../../inference/index.js';
import { runCli } from '../cli/run-cli.js';
import { waitFor } from '../helpers/agent.js';
import { Cleanups } from '../helpers/fixtures.js';
import { api } from '../helpers/hub.js';
import { initialModel, startFlHub } from './fleet.js';

// `outpost fl start|status|stop` against a real hub, the starting model read
// from the registry (a tfjs-layers version), and bad input named.

describe('outpost fl start|status|stop', () => {
  const cleanups = new Cleanups();
  after(async () => {
    await cleanups.run();
  });

  it('starts a task from a registered version, shows its rounds, stops one, names bad input', async () => {
    const { hub } = await startFlHub([[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]], cleanups, 10);
    const model = initialModel();
    const files = layersModelFiles(model.modelTopology, model.weights);
    await hub.delivery.registry.registerVersion({
      name: 'digits',
      version: '1.0.0',
      bytes: packTfjsBundle({
        format: 'tfjs-layers',
        modelJson: files.modelJson,
        modelJsonBytes: files.modelJsonBytes,
        shards: new Map([['weights.bin', files.shard]]),
      }),
    });
    const env = { OUTPOST_CLI_ADMIN_TOKEN: hub.adminToken, OUTPOST_CLI_HUB_URL: hub.http.url };

    let r = await runCli(
      [
        'fl',
        'start',
        '--model',
        'digits',
        '--version',
        '1.0.0',
        '--id',
        'cli-task',
        '--rounds',
        '1',
        '--min-clients',
        '1',
        '--hub-eval',
        '5',
        '--trainable-last',
        '1',
      ],
      env,
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /task cli-task started \(fedavg, 1 rounds\)/);
    const task = await waitFor(
      async () => {
        const t = await hub.store.getFlTask('cli-task');
        return t?.status === 'done' && t;
      },
      'the CLI task to finish',
      40_000,
    );
    assert.equal(task.status, 'done');
    // --trainable-last 1: only the output layer trained; the first layer was frozen.
    assert.deepEqual(task.spec.trainableLayers, { last: 1 });
    const layers = (task.spec.topology as { config: { layers: Array<{ config: { trainable?: boolean } }> } })
      .config.layers;
    assert.deepEqual(
      layers.map((l) => l.config.trainable),
      [false, true],
    );

    r = await runCli(['fl', 'status', 'cli-task'], env);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /cli-task {2}fedavg sync digits@1\.0\.0 {2}DONE/);
    assert.match(r.stdout, /ROUND +STATUS +ACCEPTED/);
    assert.match(r.stdout, /1 +closed +1\/1/);

    // A second task (through the API: each CLI run costs seconds here) is stopped while it
    // waits for more devices than there are.
    const waiting = { model: { name: 'digits', version: '1.0.0' }, id: 'waiting', minClients: 5 };
    assert.equal((await api(hub, 'POST', '/v1/federated/tasks', waiting)).status, 201);
    // Why it waits is in the task itself, for `fl status` and the API.
    await waitFor(async () => (await hub.store.getFlTask('waiting'))?.reason !== null, 'the waiting reason');
    r = await runCli(['fl', 'status', 'waiting'], env);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /RUNNING/);
    assert.match(
      r.stdout,
      /reason: waiting for devices: 1 eligible online devices, the round needs at least 5/,
    );
    r = await runCli(['fl', 'stop', 'waiting'], env);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /task waiting stopped/);

    // Bad input is named: an unknown version, a bad strategy.
    r = await runCli(['fl', 'start', '--model', 'digits', '--version', '9.9.9'], env);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /digits@9\.9\.9/);
    r = await runCli(
      ['fl', 'start', '--model', 'digits', '--version', '1.0.0', '--trainable-layers', 'dense_1,dense_9'],
      env,
    );
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /trainableLayers: no layer dense_9; the layers with weights are dense_0, dense_1/);
    const bad = await api(hub, 'POST', '/v1/federated/tasks', {
      ...waiting,
      id: 'bad',
      strategy: 'fedmagic',
    });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.code, 'FL_BAD_PARAMS');
    assert.match(bad.body.error.message, /strategy/);
  });
});
