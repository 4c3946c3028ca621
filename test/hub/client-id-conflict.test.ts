import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  api,
  closeClient,
  closed,
  connectDevice,
  enroll,
  startHub,
  tempDir,
  within,
} from '../helpers/hub.js';
import { runBuiltCli } from '../packaging/process-helpers.js';

test('a second connection with a live device id is counted on the device and in devices list', async () => {
  const dir = await tempDir();
  const hub = await startHub(dir.path);
  try {
    const creds = await enroll(hub, { id: 'twin-1' });
    const first = await connectDevice(hub, creds);
    const firstGone = closed(first.client);
    const second = await connectDevice(hub, creds);
    await within(firstGone, 'the older connection to be taken over');
    assert.equal((await api(hub, 'GET', '/v1/devices/twin-1')).body.clientIdConflicts, 1);
    const list = await runBuiltCli(['devices', 'list'], {
      OUTPOST_CLI_HUB_URL: hub.http.url,
      OUTPOST_CLI_ADMIN_TOKEN: hub.adminToken,
    });
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /^twin-1\s+(online|offline) \(1 id conflicts\)\s/m);
    await closeClient(second.client);
  } finally {
    await hub.close();
    await dir.remove();
  }
});
