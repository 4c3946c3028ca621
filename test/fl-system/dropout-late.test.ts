import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { Agent } from '../../agent/index.js';
import type { Hub } from '../../hub/index.js';
import { loadDigits } from '../../inference/index.js';
import { FaultProxy, tempDir, waitFor } from '../helpers/agent.js';
import { Cleanups } from '../helpers/fixtures.js';
import { api, enroll, startHub } from '../helpers/hub.js';
import {
  type FleetDevice,
  initialModel,
  postDigits,
  sliceDigits,
  startAgent,
  startFleet,
  startFlHub,
  taskBody,
  taskEnded,
} from './fleet.js';

// Dropouts tolerated, a late device coming back online (its update
// counted by the stated policy — sync: late, discarded — never twice), and a hub restart
// mid-round that resumes the round.

function hasTask(agent: Agent | undefined): boolean {
  return (
    agent !== undefined &&
    agent.status().desired.appliedRev > 0 &&
    agent.status().desired.outcome?.status === 'applied'
  );
}

describe('federated rounds with failures', () => {
  const cleanups = new Cleanups();
  after(async () => {
    await cleanups.run();
  });

  async function proxied(
    hub: Hub,
    digits: number,
  ): Promise<{ device: FleetDevice; proxy: FaultProxy; url: string }> {
    const proxy = new FaultProxy();
    const url = await proxy.listen();
    proxy.setTarget(hub.mqtt.url);
    cleanups.push(() => proxy.close());
    const dir = tempDir('outpost-fl-late-');
    cleanups.push(() => dir.remove());
    const device: FleetDevice = {
      creds: await enroll(hub, { name: 'late' }),
      dataDir: dir.path,
      agent: undefined,
    };
    const agent = await startAgent(device, url);
    cleanups.push(() => device.agent?.close());
    // Many examples: its training takes long enough to cut its link before it is done.
    await postDigits(agent, sliceDigits(loadDigits(digits, 0), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]), 'train');
    return { device, proxy, url };
  }

  it('closes a round without a device that dropped out, and files its late update once', async () => {
    const { hub } = await startFlHub(
      [
        [0, 1, 2, 3, 4],
        [5, 6, 7, 8, 9],
      ],
      cleanups,
    );
    const { device: late, proxy, url } = await proxied(hub, 150);
    await waitFor(
      async () => (await hub.store.listDevices()).filter((d) => d.online).length === 3,
      'three online',
    );

    const body = taskBody(initialModel(), { id: 'dropout', rounds: 1, minClients: 2, deadlineS: 3 });
    assert.equal((await api(hub, 'POST', '/v1/federated/tasks', body)).status, 201);
    // The late device got the task: its link goes down while it trains.
    await waitFor(() => hasTask(late.agent), 'the late device to get the task', 20_000);
    proxy.refuse(true);
    proxy.cut();

    const task = await taskEnded(hub, 'dropout', 'the round to close without the late device', 40_000);
    assert.equal(task.status, 'done');
    let [round] = (await api(hub, 'GET', '/v1/federated/tasks/dropout/rounds')).body.rounds;
    assert.equal(round.selected.length, 3);
    assert.equal(round.metrics.accepted, 2, JSON.stringify(round.metrics));
    assert.equal(round.metrics.dropouts, 1);

    // The device trained offline: its update waits in the learning lane, then comes back.
    await waitFor(
      () => (late.agent?.status().outbox.learning.pending ?? 0) > 0,
      'the update queued offline',
      30_000,
    );
    proxy.refuse(false);
    await waitFor(() => late.agent?.status().outbox.learning.pending === 0, 'the update delivered', 30_000);
    [round] = (await api(hub, 'GET', '/v1/federated/tasks/dropout/rounds')).body.rounds;
    const mine = round.updates.filter((u: { deviceId: string }) => u.deviceId === late.creds.id);
    assert.equal(mine.length, 1);
    assert.equal(mine[0].status, 'late');
    assert.match(mine[0].reason, /already closed .*late updates are discarded/);
    assert.equal(round.metrics.accepted, 2);

    // A restart neither trains the round again nor sends anything more.
    const enqueued = late.agent?.status().outbox.learning.enqueued;
    await late.agent?.close();
    const again = await startAgent(late, url);
    await waitFor(() => again.status().link.connected, 'the restarted device connected', 20_000);
    assert.equal(again.status().outbox.learning.enqueued, enqueued);
    [round] = (await api(hub, 'GET', '/v1/federated/tasks/dropout/rounds')).body.rounds;
    assert.equal(round.updates.filter((u: { deviceId: string }) => u.deviceId === late.creds.id).length, 1);
  });

  it('resumes an open round after a hub restart', async () => {
    const dir = tempDir('outpost-fl-hub-');
    cleanups.push(() => dir.remove());
    let hub = await startHub(dir.path);
    const ports = { http: hub.http.port, mqtt: hub.mqtt.port };
    cleanups.push(() => hub.close());
    await startFleet(
      hub,
      [
        [0, 1, 2, 3, 4],
        [5, 6, 7, 8, 9],
      ],
      cleanups,
    );
    const { device: slow, proxy } = await proxied(hub, 60);
    await waitFor(
      async () => (await hub.store.listDevices()).filter((d) => d.online).length === 3,
      'three online',
    );

    const body = taskBody(initialModel(), { id: 'restart', rounds: 1, minClients: 3, deadlineS: 120 });
    assert.equal((await api(hub, 'POST', '/v1/federated/tasks', body)).status, 201);
    await waitFor(() => hasTask(slow.agent), 'the slow device to get the task', 20_000);
    proxy.refuse(true);
    proxy.cut();
    // The two others' updates are filed; the round waits for the third.
    await waitFor(
      async () =>
        (await hub.store.listFlPending('restart', 1)).filter((p) => p.chunks === p.total).length === 2,
      'two updates filed',
      30_000,
    );
    const before = await hub.store.getFlRound('restart', 1);
    assert.equal(before?.status, 'open');

    await hub.close();
    hub = await startHub(dir.path, { http: { port: ports.http }, mqtt: { port: ports.mqtt } });
    proxy.setTarget(hub.mqtt.url);
    proxy.refuse(false);

    const task = await taskEnded(hub, 'restart', 'the resumed round to close', 50_000);
    assert.equal(task.status, 'done', JSON.stringify(task));
    const [round] = (await api(hub, 'GET', '/v1/federated/tasks/restart/rounds')).body.rounds;
    assert.equal(round.openedAt, before?.openedAt);
    assert.equal(round.metrics.accepted, 3, JSON.stringify(round.metrics));
  });
});
