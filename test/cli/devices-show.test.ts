import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Hub } from '../../hub/index.js';
import { deviceTopic } from '../../shared/index.js';
import {
  closeClient,
  connectDevice,
  enroll,
  startHub,
  subscribeGranted,
  tempDir,
  waitFor,
} from '../helpers/hub.js';
import { runBuiltCli } from '../packaging/process-helpers.js';

describe('outpost devices show and command', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let hub: Hub;
  let env: Record<string, string>;
  before(async () => {
    dir = await tempDir();
    hub = await startHub(dir.path);
    env = { OUTPOST_CLI_HUB_URL: hub.http.url, OUTPOST_CLI_ADMIN_TOKEN: hub.adminToken };
  });
  after(async () => {
    await hub.close();
    await dir.remove();
  });

  test('show lists refusals with code and reason and rejected engines', async () => {
    await enroll(hub, { id: 'sick-1' });
    const reported = {
      appliedRev: 2,
      agentVersion: '0.1.0',
      models: [
        {
          name: 'clf',
          desired: '2.0.0',
          refused: {
            version: '2.0.0',
            code: 'PROTO_UNTRUSTED_KEY',
            reason: 'signed by an unknown key',
            at: 1,
          },
        },
      ],
      inference: {
        models: [
          {
            name: 'clf',
            version: '1.0.0',
            precision: 'fp32',
            engine: 'onnx:cpu',
            rejected: [{ engine: 'onnx:cuda', stage: 'unsupported', reason: 'no CUDA device' }],
          },
        ],
      },
    };
    assert.ok(await hub.store.setReported('sick-1', reported, Date.now()));
    const res = await runBuiltCli(['devices', 'show', 'sick-1'], env);
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stdout, /refused\s+2\.0\.0: PROTO_UNTRUSTED_KEY signed by an unknown key/);
    assert.match(res.stdout, /rejected\s+onnx:cuda \(unsupported\): no CUDA device/);
    assert.match(res.stdout, /^id conflicts 0$/m);
  });

  test('command sends NAME with --args on the device command channel', async () => {
    const creds = await enroll(hub, { id: 'cmd-1' });
    const device = await connectDevice(hub, creds);
    try {
      await subscribeGranted(device.client, [deviceTopic('cmd-1', 'cmd')]);
      const res = await runBuiltCli(['devices', 'command', 'cmd-1', 'ping', '--args', '{"n":3}'], env);
      assert.equal(res.code, 0, res.stderr);
      const cmd = await waitFor(
        () => device.received(deviceTopic('cmd-1', 'cmd'))[0],
        'the command to arrive',
        60_000,
      );
      assert.equal(cmd.name, 'ping');
      assert.deepEqual(cmd.args, { n: 3 });
      const bad = await runBuiltCli(['devices', 'command', 'cmd-1', 'ping', '--args', '{oops'], env);
      assert.equal(bad.code, 2);
    } finally {
      await closeClient(device.client);
    }
  });
});
