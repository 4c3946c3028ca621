/**
 * A secure-aggregation round survives hub restarts. Three protocol-level devices (the agent's
 * own secure-aggregation runner over fixed deltas), t = 2. One device holds its key shares
 * back, so the round waits in the share phase with two shares stored: the hub restarts on the
 * same data dir (SQLite) or database (PostgreSQL), then the shares come. The same device holds
 * its unmasking answer back, so the round waits in the unmask phase with the masked inputs
 * and two answers stored: the hub restarts again, then the answer comes. The new processes
 * rebuild the round from the store (advertisements, roster, shares, U2, the survivors' masked
 * inputs, U3, answers), finish it, and the new model is the example-weighted mean of the three
 * deltas within the fixed-point bound; the round's protocol state is deleted once it ended.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { buildMnistMlp } from '../../federated/index.js';
import type { Hub, HubConfigInput } from '../../hub/index.js';
import { api, Cleanups, enroll, startHub, tempDir, waitFor } from '../helpers/hub.js';
import {
  assertSecureMean,
  connectSecAggDevice,
  constantDelta,
  type SecAggDevice,
  secureRoundTask,
} from '../helpers/secagg-device.js';
import { postgresSpace, probePostgres } from '../store-contract/backends.js';
import { taskBody, taskEnded } from './fleet.js';

const pgSkip = await probePostgres();
const TASK = 'secure-restart';
const DEVICES = [
  { id: 'sr-a', delta: 0.001, examples: 50 },
  { id: 'sr-b', delta: 0.002, examples: 100 },
  { id: 'sr-c', delta: 0.003, examples: 150 },
];
const MAX_EXAMPLES = 200;

/** The phase stored for the round and how many messages of `kind` it took. */
async function stored(hub: Hub, kind: string) {
  const round = await hub.store.getSecAggRound(TASK, 1);
  const messages = await hub.store.listSecAggMessages(TASK, 1);
  return { phase: round?.phase, count: messages.filter((m) => m.kind === kind).length };
}

for (const backend of ['sqlite', 'postgres'] as const) {
  describe(`a secure round survives hub restarts [${backend}]`, {
    skip: backend === 'postgres' ? pgSkip : undefined,
  }, () => {
    const cleanups = new Cleanups();
    after(() => cleanups.run());

    test('restarted in the share and unmask phases, the hub finishes the round with the right sum', async () => {
      const dir = await tempDir('outpost-secagg-restart-');
      cleanups.push(() => dir.remove());
      const config: Partial<HubConfigInput> = {};
      if (backend === 'postgres') {
        const space = await postgresSpace();
        cleanups.push(() => space.dispose());
        config.store = { url: space.url, schema: space.schema };
      }
      let hub = await startHub(dir.path, config);
      cleanups.push(() => hub.close());
      const port = hub.mqtt.port;
      const model = buildMnistMlp(3, { hidden: [4] });
      const devices: SecAggDevice[] = [];
      for (const d of DEVICES) {
        const creds = await enroll(hub, { id: d.id, labels: { secure: 'restart' } });
        const device = await connectSecAggDevice(
          hub.mqtt.url,
          creds,
          constantDelta(model.weights, d.delta),
          d.examples,
        );
        cleanups.push(() => device.close());
        devices.push(device);
      }
      await waitFor(
        async () => (await hub.store.listDevices()).filter((x) => x.online).length === DEVICES.length,
        'the devices online',
      );
      const c = devices[2] as SecAggDevice;
      c.hold(['fl.secagg.shares']);
      const created = await api(
        hub,
        'POST',
        '/v1/federated/tasks',
        taskBody(
          model,
          secureRoundTask({
            id: TASK,
            selector: { secure: 'restart' },
            clients: DEVICES.length,
            maxExamples: MAX_EXAMPLES,
          }),
        ),
      );
      assert.equal(created.status, 201, JSON.stringify(created.body));

      // Share phase, two of three shares stored: restart.
      await waitFor(async () => {
        const s = await stored(hub, 'shares');
        return s.phase === 'share' && s.count === 2;
      }, 'two key shares stored');
      await hub.close();
      hub = await startHub(dir.path, { ...config, mqtt: { port } });
      c.hold(['fl.secagg.unmask']);
      await c.release(['fl.secagg.shares']);

      // Unmask phase, every masked input and two of three answers stored: restart.
      await waitFor(
        async () => {
          const s = await stored(hub, 'unmask');
          return s.phase === 'unmask' && s.count === 2;
        },
        'two unmasking answers stored',
        30_000,
      );
      assert.deepEqual((await hub.store.getSecAggRound(TASK, 1))?.survivors, DEVICES.map((d) => d.id).sort());
      await hub.close();
      hub = await startHub(dir.path, { ...config, mqtt: { port } });
      await c.release();

      const task = await taskEnded(hub, TASK, 'the secure round to close', 30_000);
      assert.equal(task.status, 'done', JSON.stringify(task));
      const [round] = (await api(hub, 'GET', `/v1/federated/tasks/${TASK}/rounds`)).body.rounds;
      assert.equal(round.metrics.accepted, 3, JSON.stringify(round.metrics));
      assert.equal(round.metrics.examples, 300);

      // global + Σ w·δ / Σ w, w = examples / maxExamples.
      const next = (await api(hub, 'GET', `/v1/federated/tasks/${TASK}/weights?round=2`)).body.weights;
      assertSecureMean(model.weights, next, DEVICES, MAX_EXAMPLES);
      // The protocol state of the ended round goes (right after its outcome is stored).
      await waitFor(async () => (await hub.store.getSecAggRound(TASK, 1)) === undefined, 'the state deleted');
      assert.deepEqual(await hub.store.listSecAggMessages(TASK, 1), []);
    });
  });
}
