import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Hub } from '../../hub/index.js';
import { decodeJoinToken } from '../../shared/index.js';
import { api, startHub, tempDir, waitFor } from '../helpers/hub.js';
import { classifierModel } from '../helpers/models.js';
import { root, runBuiltCli } from '../packaging/process-helpers.js';

// One-token onboarding: `devices add` prints a join token, `agent join` turns it into the agent's
// whole config, and a bare `outpost agent` then comes online and verifies a pushed model with
// the signing keys the token carried.

test('the join token carries the public URLs and the signing keys, not the listen address', async () => {
  const dir = await tempDir();
  const hub = await startHub(dir.path, {
    public: { mqttUrl: 'mqtts://hub.example.org:8883', httpUrl: 'https://hub.example.org' },
  });
  try {
    const res = await api(hub, 'POST', '/v1/devices', { id: 'remote-1' });
    assert.equal(res.status, 201);
    assert.equal(res.body.mqtt.url, 'mqtts://hub.example.org:8883');
    const token = decodeJoinToken(res.body.joinToken);
    assert.equal(token.deviceId, 'remote-1');
    assert.equal(token.deviceSecret, res.body.secret);
    assert.equal(token.mqttUrl, 'mqtts://hub.example.org:8883');
    assert.equal(token.httpUrl, 'https://hub.example.org');
    // Only a hub on NATS sets the agents' link QoS (to 0); everywhere else the agent's 1 holds.
    assert.equal(token.linkQos, undefined);
    const keys = (await api(hub, 'GET', '/v1/keys')).body.keys.map(
      (k: { publicKeyPem: string }) => k.publicKeyPem,
    );
    assert.deepEqual(token.trustedKeys, keys);
    assert.ok(keys.length > 0);
  } finally {
    await hub.close();
    await dir.remove();
  }
});

describe('devices add → agent join → outpost agent with no flag', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let work: Awaited<ReturnType<typeof tempDir>>;
  let hub: Hub;
  let agent: ChildProcess | undefined;
  before(async () => {
    dir = await tempDir();
    work = await tempDir('outpost-join-');
    hub = await startHub(dir.path);
  });
  after(async () => {
    if (agent?.exitCode === null) {
      agent.kill('SIGTERM');
      await new Promise((done) => agent?.once('exit', done));
    }
    await hub.close();
    await dir.remove();
    await work.remove();
  });

  test('the joined agent comes online and activates a signed model', async () => {
    const env = { OUTPOST_CLI_HUB_URL: hub.http.url, OUTPOST_CLI_ADMIN_TOKEN: hub.adminToken };
    const added = await runBuiltCli(['devices', 'add', 'joined-1'], env);
    assert.equal(added.code, 0, added.stderr);
    const token = /^token\s+(\S+)$/m.exec(added.stdout)?.[1];
    assert.ok(token, added.stdout);

    const bad = await runBuiltCli(['agent', 'join', 'not-a-token', '--data-dir', join(work.path, 'x')]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /join token starts with/);

    const dataDir = join(work.path, 'outpost-agent-data');
    const joined = await runBuiltCli(['agent', 'join', token, '--data-dir', dataDir]);
    assert.equal(joined.code, 0, joined.stderr);
    const file = join(dataDir, 'agent.json');
    assert.equal(statSync(file).mode & 0o777, 0o600);
    const config = JSON.parse(readFileSync(file, 'utf8'));
    assert.equal(config.deviceId, 'joined-1');
    assert.equal(config.hub.mqttUrl, hub.mqtt.url);
    const again = await runBuiltCli(['agent', 'join', token, '--data-dir', dataDir]);
    assert.equal(again.code, 2, 'an existing config is not replaced without --force');

    // Only the local API port differs from the defaults (tests never take fixed ports).
    mkdirSync(work.path, { recursive: true });
    const out: string[] = [];
    agent = spawn(process.execPath, [resolve(root, 'dist/cli/main.js'), 'agent'], {
      cwd: work.path,
      env: { ...process.env, OUTPOST_AGENT_API__PORT: '0', OUTPOST_AGENT_LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    agent.stdout?.on('data', (d) => out.push(String(d)));
    agent.stderr?.on('data', (d) => out.push(String(d)));
    await waitFor(
      async () => {
        if (agent?.exitCode !== null) throw new Error(`agent exited: ${out.join('')}`);
        return (await api(hub, 'GET', '/v1/devices/joined-1')).body.online === true;
      },
      'the joined agent to come online',
      120_000,
    );

    await hub.delivery.registry.registerVersion({
      name: 'clf',
      version: '1.0.0',
      bytes: classifierModel(3).bytes,
    });
    await hub.delivery.desired.setModel('joined-1', { name: 'clf', version: '1.0.0' });
    await waitFor(
      async () => {
        if (agent?.exitCode !== null) throw new Error(`agent exited: ${out.join('')}`);
        const models = (await api(hub, 'GET', '/v1/devices/joined-1')).body.reported?.models ?? [];
        return models.some(
          (m: { name: string; active?: { version: string } }) =>
            m.name === 'clf' && m.active?.version === '1.0.0',
        );
      },
      'the joined agent to activate clf 1.0.0',
      120_000,
    );
  });
});
