import assert from 'node:assert/strict';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { mosquittoAcl, mosquittoHubAcl } from '../../hub/broker/mosquitto-config.js';
import { runCli } from '../cli/run-cli.js';
import { enroll, startHub, tempDir } from '../helpers/hub.js';

// `outpost hub broker-config --out DIR` writes the broker's auth files from
// the store: the hub user plus one `$7$` line per enrolled device, the `%u` ACL, a config.

test('outpost hub broker-config writes passwd (0600), acl and conf for every enrolled device', async () => {
  const data = await tempDir();
  const out = await tempDir('outpost-broker-out-');
  try {
    const hub = await startHub(data.path);
    const ids = [(await enroll(hub, { id: 'cfg-a' })).id, (await enroll(hub, { id: 'cfg-b' })).id];
    await hub.close();
    const missing = await runCli(['hub', 'broker-config', '--data-dir', data.path]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /--out DIR is required/);
    const noPassword = await runCli(['hub', 'broker-config', '--data-dir', data.path, '--out', out.path]);
    assert.equal(noPassword.code, 2);
    assert.match(noPassword.stderr, /broker\.password is required/);
    const run = await runCli(
      [
        'hub',
        'broker-config',
        '--data-dir',
        data.path,
        '--out',
        out.path,
        '--listen',
        '127.0.0.1:18830',
        '--hub-listen',
        '10.0.0.5:18831',
      ],
      { OUTPOST_HUB_BROKER__PASSWORD: 'a-hub-broker-password-1234' },
    );
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /2 devices/);
    const passwd = await readFile(join(out.path, 'passwd'), 'utf8');
    const users = passwd
      .trim()
      .split('\n')
      .map((line) => line.split(':')[0]);
    assert.deepEqual(users, ids, 'the devices file holds devices only');
    const hubPasswd = await readFile(join(out.path, 'hub-passwd'), 'utf8');
    assert.match(hubPasswd, /^outpost-hub:\$7\$101\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+\n$/);
    assert.equal(hubPasswd.includes('a-hub-broker-password-1234'), false, 'no password in the clear');
    for (const file of ['passwd', 'hub-passwd', 'acl', 'hub-acl', 'mosquitto.conf']) {
      assert.equal((await stat(join(out.path, file))).mode & 0o777, 0o600, file);
    }
    assert.equal(await readFile(join(out.path, 'acl'), 'utf8'), mosquittoAcl());
    assert.equal(await readFile(join(out.path, 'hub-acl'), 'utf8'), mosquittoHubAcl('outpost-hub'));
    const conf = await readFile(join(out.path, 'mosquitto.conf'), 'utf8');
    assert.match(
      conf,
      /^listener 18830 127\.0\.0\.1\nallow_anonymous false\nuse_username_as_clientid true$/m,
    );
    assert.match(conf, /^listener 18831 10\.0\.0\.5$/m);
    const badHub = await runCli(
      ['hub', 'broker-config', '--data-dir', data.path, '--out', out.path, '--hub-listen', 'x'],
      {
        OUTPOST_HUB_BROKER__PASSWORD: 'a-hub-broker-password-1234',
      },
    );
    assert.equal(badHub.code, 2);
    assert.match(badHub.stderr, /--hub-listen must be HOST:PORT/);
  } finally {
    await data.remove();
    await out.remove();
  }
});
