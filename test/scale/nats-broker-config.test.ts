import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { runCli } from '../cli/run-cli.js';
import { api, enroll, startHub, tempDir } from '../helpers/hub.js';
import { NATS_BIN, natsSkip } from '../helpers/nats-cluster.js';

// `outpost hub broker-config --broker nats --out DIR` writes a NATS cluster's config set from the
// store: auth.conf (the hub and one confined user per enabled device) and one config per node,
// which nats-server itself accepts (`nats-server -t`).

const PASSWORD = 'a-hub-broker-password-for-nats';

test('outpost hub broker-config --broker nats writes auth.conf and a three-node cluster', {
  skip: natsSkip(),
}, async () => {
  const data = await tempDir();
  const out = await tempDir('outpost-nats-out-');
  try {
    const hub = await startHub(data.path);
    const a = await enroll(hub, { id: 'cfg-a' });
    await enroll(hub, { id: 'cfg-off' });
    await enroll(hub, { id: 'cfg.dotted' });
    assert.equal((await api(hub, 'POST', '/v1/devices/cfg-off/disable')).status, 200);
    await hub.close();
    const env = { OUTPOST_HUB_BROKER__PASSWORD: PASSWORD };
    const bad = await runCli(
      ['hub', 'broker-config', '--data-dir', data.path, '--out', out.path, '--broker', 'emqx'],
      env,
    );
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--broker must be nats or mosquitto/);
    const nodesAlone = await runCli(
      ['hub', 'broker-config', '--data-dir', data.path, '--out', out.path, '--nodes', 'x'],
      env,
    );
    assert.equal(nodesAlone.code, 2);
    assert.match(nodesAlone.stderr, /--nodes goes with --broker nats/);
    const run = await runCli(
      [
        'hub',
        'broker-config',
        '--broker',
        'nats',
        '--nodes',
        'n-a,n-b,n-c',
        '--data-dir',
        data.path,
        '--out',
        out.path,
      ],
      env,
    );
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /1 devices/);
    assert.match(run.stderr, /1 devices left out .*cfg\.dotted/);
    const auth = await readFile(join(out.path, 'auth.conf'), 'utf8');
    assert.match(auth, /user: "outpost-hub", password: "\$2[ab]\$11\$/);
    assert.match(auth, /user: "cfg-a", password: "\$2[ab]\$04\$/);
    assert.match(auth, /"outpost\.v1\.d\.cfg-a\.up"/);
    assert.match(auth, /allowed_connection_types: \["MQTT"\]/);
    assert.doesNotMatch(auth, /cfg-off|cfg\.dotted/, 'disabled and dotted ids are left out');
    assert.equal(auth.includes(PASSWORD) || auth.includes(a.secret), false, 'no secret in the clear');
    for (const [i, host] of ['n-a', 'n-b', 'n-c'].entries()) {
      const conf = await readFile(join(out.path, `nats-${i + 1}.conf`), 'utf8');
      assert.match(conf, new RegExp(`server_name: "${host}"`));
      assert.match(conf, /mqtt \{\n {2}host: "0\.0\.0\.0"\n {2}port: 1883\n {2}stream_replicas: 3/);
      assert.doesNotMatch(conf, new RegExp(`@${host}:6222`), 'no route to itself');
      assert.equal((await stat(join(out.path, `nats-${i + 1}.conf`))).mode & 0o777, 0o600);
      // nats-server parses the node's config and the include it names.
      const check = await promisify(execFile)(NATS_BIN, [
        '-t',
        '-c',
        join(out.path, `nats-${i + 1}.conf`),
      ]).catch((err: { stderr?: string; message: string }) => ({
        stdout: '',
        stderr: err.stderr ?? err.message,
      }));
      assert.match(`${check.stdout}${check.stderr}`, /configuration file .* is valid/);
    }
    assert.equal((await stat(join(out.path, 'auth.conf'))).mode & 0o777, 0o600);
  } finally {
    await data.remove();
    await out.remove();
  }
});
