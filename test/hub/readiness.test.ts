import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HubConfigSchema, openHubStore, writeBrokerAuth } from '../../hub/index.js';
import { OUTPOST_VERSION } from '../../shared/index.js';
import { api, startHub, tempDir, waitFor } from '../helpers/hub.js';
import { mosquittoSkip, startMosquitto } from '../scale/mosquitto.js';

test('/healthz names the version; /readyz answers 200 once store and embedded broker serve', async () => {
  const dir = await tempDir();
  const hub = await startHub(dir.path);
  try {
    const health = await api(hub, 'GET', '/healthz', undefined, null);
    assert.equal(health.body.version, OUTPOST_VERSION);
    const ready = await api(hub, 'GET', '/readyz', undefined, null);
    assert.equal(ready.status, 200);
    assert.deepEqual(ready.body, { ready: true, version: OUTPOST_VERSION, store: true, broker: true });
  } finally {
    await hub.close().catch(() => undefined);
    await dir.remove();
  }
});

test('/readyz answers 503 naming the broker while an external broker is down', {
  skip: mosquittoSkip(),
}, async () => {
  const dir = await tempDir();
  const authDir = await tempDir('outpost-broker-auth-');
  const broker = { username: 'outpost-hub', password: 'hub-broker-password-for-tests' };
  const store = await openHubStore(HubConfigSchema.parse({ dataDir: dir.path }));
  await writeBrokerAuth(store, { dir: authDir.path, hub: broker });
  await store.close();
  const mosquitto = await startMosquitto(authDir.path);
  const hub = await startHub(dir.path, { broker: { url: mosquitto.hubUrl, ...broker } });
  try {
    assert.equal((await api(hub, 'GET', '/readyz', undefined, null)).status, 200);
    await mosquitto.stop();
    await waitFor(
      async () => (await api(hub, 'GET', '/readyz', undefined, null)).status === 503,
      '/readyz to report the broker down',
    );
    const body = (await api(hub, 'GET', '/readyz', undefined, null)).body;
    assert.equal(body.broker, false);
    assert.equal(body.store, true);
  } finally {
    await hub.close().catch(() => undefined);
    await mosquitto.stop().catch(() => undefined);
    await dir.remove();
    await authDir.remove();
  }
});
