import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { MqttClient } from 'mqtt';
import { type Hub, HubConfigSchema, openHubStore, writeBrokerAuth } from '../../hub/index.js';
import { deviceTopic, PROTOCOL_VERSION } from '../../shared/index.js';
import {
  api,
  type Credentials,
  closed,
  enroll,
  loginDevice,
  startHub,
  tempDir,
  waitFor,
  within,
} from '../helpers/hub.js';
import { mosquittoSkip, startMosquitto, type TestMosquitto } from './mosquitto.js';

// Disabling, rotating or removing a device cuts its live session on an external Mosquitto at
// once (the hub takes the device's client id over), not only at the broker's next reload; a
// device that gets back in before the reload is cut again as soon as it announces itself.

const HUB = { username: 'outpost-hub', password: 'hub-broker-password-for-tests' };

describe('device lifecycle on an external Mosquitto', { skip: mosquittoSkip() }, () => {
  let dataDir: Awaited<ReturnType<typeof tempDir>>;
  let authDir: Awaited<ReturnType<typeof tempDir>>;
  let mosquitto: TestMosquitto;
  let hub: Hub;

  /** Connects as the device, announcing itself online (retained) with an offline will, like the agent. */
  const connect = (creds: Credentials, conn = 'c1'): Promise<MqttClient> => {
    const status = (state: 'online' | 'offline') =>
      JSON.stringify({ v: PROTOCOL_VERSION, state, conn, at: Date.now() });
    return loginDevice(mosquitto.url, creds, {
      will: {
        topic: deviceTopic(creds.id, 'status'),
        payload: Buffer.from(status('offline')),
        qos: 1,
        retain: true,
      },
    }).then(async (client) => {
      await client.publishAsync(deviceTopic(creds.id, 'status'), status('online'), {
        qos: 1,
        retain: true,
      });
      return client;
    });
  };
  const online = async (id: string) => (await api(hub, 'GET', `/v1/devices/${id}`)).body.online as boolean;
  /** SIGHUP, then waits until Mosquitto refuses (or admits) the device. */
  const reloadUntil = async (creds: Credentials, admitted: boolean) => {
    mosquitto.reload();
    await waitFor(
      async () => {
        try {
          const probe = await loginDevice(mosquitto.url, creds);
          await probe.endAsync();
          return admitted;
        } catch {
          return !admitted;
        }
      },
      `Mosquitto to ${admitted ? 'admit' : 'refuse'} ${creds.id} after its reload`,
    );
  };

  before(async () => {
    dataDir = await tempDir();
    authDir = await tempDir('outpost-broker-auth-');
    // Mosquitto needs the hub's user before the hub can connect: write the files first.
    const store = await openHubStore(HubConfigSchema.parse({ dataDir: dataDir.path }));
    await writeBrokerAuth(store, { dir: authDir.path, hub: HUB });
    await store.close();
    mosquitto = await startMosquitto(authDir.path);
    hub = await startHub(dataDir.path, { broker: { url: mosquitto.hubUrl, ...HUB, authDir: authDir.path } });
  });
  after(async () => {
    await hub?.close();
    await mosquitto?.stop();
    await dataDir?.remove();
    await authDir?.remove();
  });

  const enrolled = async (id: string) => {
    const creds = await enroll(hub, { id });
    await reloadUntil(creds, true);
    return creds;
  };

  test('disable cuts the live session before any reload; the reload then refuses it; enable lets it in', async () => {
    const creds = await enrolled('mq-life-1');
    const client = await connect(creds);
    await waitFor(() => online(creds.id), 'the hub to see the device online');
    const gone = closed(client);
    assert.equal((await api(hub, 'POST', `/v1/devices/${creds.id}/disable`)).status, 200);
    await within(gone, 'Mosquitto to close the disabled device’s connection');
    await waitFor(async () => !(await online(creds.id)), 'its will to mark it offline');
    await reloadUntil(creds, false);
    assert.equal((await api(hub, 'POST', `/v1/devices/${creds.id}/enable`)).status, 200);
    await reloadUntil(creds, true);
  });

  test('a disabled device that gets back in before the reload is cut again when it announces itself', async () => {
    const creds = await enrolled('mq-life-2');
    const first = await connect(creds);
    const firstGone = closed(first);
    assert.equal((await api(hub, 'POST', `/v1/devices/${creds.id}/disable`)).status, 200);
    await within(firstGone, 'the first cut');
    // No SIGHUP yet: the old password file still admits the device.
    const back = await connect(creds, 'c2');
    await within(closed(back), 'the hub to cut the device again after its online status');
  });

  test('remove and rotate-secret cut the live session too', async () => {
    const rotated = await enrolled('mq-life-3');
    const a = await connect(rotated);
    const aGone = closed(a);
    assert.equal((await api(hub, 'POST', `/v1/devices/${rotated.id}/rotate-secret`)).status, 200);
    await within(aGone, 'the cut after rotate-secret');
    await reloadUntil(rotated, false);

    const removed = await enrolled('mq-life-4');
    const b = await connect(removed);
    const bGone = closed(b);
    assert.equal((await api(hub, 'DELETE', `/v1/devices/${removed.id}`)).status, 204);
    await within(bGone, 'the cut after remove');
    await reloadUntil(removed, false);
  });
});
