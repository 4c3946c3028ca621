import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { deviceTopic } from '../../shared/index.js';
import {
  closeClient,
  connectDevice,
  enroll,
  type HubForCli,
  startHubForCli,
  subscribeGranted,
  waitFor,
} from '../helpers/hub.js';
import { runBuiltCli } from '../packaging/process-helpers.js';

describe('outpost devices show and command', () => {
  let fixture: HubForCli;
  before(async () => {
    fixture = await startHubForCli();
  });
  after(() => fixture?.close());

  test('show lists refusals with code and reason and rejected engines', async () => {
    await enroll(fixture.hub, { id: 'sick-1' });
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
    assert.ok(await fixture.hub.store.setReported('sick-1', reported, Date.now()));
    const res = await runBuiltCli(['devices', 'show', 'sick-1'], fixture.env);
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stdout, /refused\s+2\.0\.0: PROTO_UNTRUSTED_KEY signed by an unknown key/);
    assert.match(res.stdout, /rejected\s+onnx:cuda \(unsupported\): no CUDA device/);
    assert.match(res.stdout, /^id conflicts 0$/m);
  });

  test('command sends NAME with --args on the device command channel', async () => {
    const creds = await enroll(fixture.hub, { id: 'cmd-1' });
    const device = await connectDevice(fixture.hub, creds);
    try {
      await subscribeGranted(device.client, [deviceTopic('cmd-1', 'cmd')]);
      const res = await runBuiltCli(
        ['devices', 'command', 'cmd-1', 'ping', '--args', '{"n":3}'],
        fixture.env,
      );
      assert.equal(res.code, 0, res.stderr);
      const cmd = await waitFor(
        () => device.received(deviceTopic('cmd-1', 'cmd'))[0],
        'the command to arrive',
        60_000,
      );
      assert.equal(cmd.name, 'ping');
      assert.deepEqual(cmd.args, { n: 3 });
      const bad = await runBuiltCli(['devices', 'command', 'cmd-1', 'ping', '--args', '{oops'], fixture.env);
      assert.equal(bad.code, 2);
    } finally {
      await closeClient(device.client);
    }
  });
});
