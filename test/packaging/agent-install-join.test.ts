/**
 * `outpost agent install --join TOKEN`: the agent's whole config from the token in
 * DATA_DIR/agent.json (0600), an env file naming only the data dir, the service user created
 * when absent; a unit without credentials is refused.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { AgentConfigSchema } from '../../agent/index.js';
import { userExists } from '../../cli/service-user.js';
import { encodeJoinToken } from '../../shared/index.js';
import { tempDir } from '../helpers/hub.js';
import { root, runBuiltCli } from './process-helpers.js';

const main = resolve(root, 'dist/cli/main.js');
const TOKEN = encodeJoinToken({
  v: 1,
  deviceId: 'pi-join-1',
  deviceSecret: 'join-install-secret-0123456789',
  mqttUrl: 'mqtts://hub.example.org:8883',
  httpUrl: 'https://hub.example.org',
  trustedKeys: ['-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAtest\n-----END PUBLIC KEY-----\n'],
});

function installArgs(dir: string, user: string): string[] {
  return [
    'agent',
    'install',
    '--user',
    user,
    '--data-dir',
    join(dir, 'data'),
    '--environment-file',
    join(dir, 'agent.env'),
    '--unit-dir',
    dir,
    '--main',
    main,
  ];
}

test('agent install refuses to write a unit without credentials', async () => {
  const dir = await tempDir('outpost-install-');
  try {
    const res = await runBuiltCli([...installArgs(dir.path, 'root'), '--device-id', 'pi-1'], {
      OUTPOST_AGENT_DEVICE_SECRET: '',
    });
    assert.equal(res.code, 2, res.stdout);
    assert.match(res.stderr, /no device credentials: pass --join TOKEN/);
    assert.ok(!existsSync(join(dir.path, 'outpost-agent.service')));
  } finally {
    await dir.remove();
  }
});

test('agent install --join writes the agent config from the token and an env file naming its data dir', async () => {
  const dir = await tempDir('outpost-install-');
  try {
    const res = await runBuiltCli([...installArgs(dir.path, 'root'), '--join', TOKEN]);
    assert.equal(res.code, 0, res.stderr);
    const file = join(dir.path, 'data', 'agent.json');
    assert.equal(statSync(file).mode & 0o777, 0o600);
    const config = AgentConfigSchema.parse(JSON.parse(readFileSync(file, 'utf8')));
    assert.equal(config.deviceId, 'pi-join-1');
    assert.equal(config.hub.mqttUrl, 'mqtts://hub.example.org:8883');
    assert.equal(config.delivery.trustedKeys.length, 1);
    const env = readFileSync(join(dir.path, 'agent.env'), 'utf8');
    assert.match(env, new RegExp(`^OUTPOST_AGENT_DATA_DIR=${join(dir.path, 'data')}$`, 'm'));
    assert.doesNotMatch(env, /join-install-secret/);
    assert.match(readFileSync(join(dir.path, 'outpost-agent.service'), 'utf8'), /^Description=.*pi-join-1/m);
  } finally {
    await dir.remove();
  }
});

const canCreateUsers =
  process.getuid?.() === 0 && existsSync('/usr/sbin/useradd') && existsSync('/usr/sbin/userdel');

test('agent install creates the service user when absent', {
  skip: canCreateUsers ? undefined : 'needs root and useradd',
}, async () => {
  const dir = await tempDir('outpost-install-');
  const user = `opt${randomBytes(4).toString('hex')}`;
  try {
    assert.ok(!userExists(user));
    const res = await runBuiltCli([...installArgs(dir.path, user), '--join', TOKEN]);
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stdout, new RegExp(`created user ${user}`));
    assert.ok(userExists(user));
    const uid = Number(execFileSync('id', ['-u', user], { encoding: 'utf8' }).trim());
    assert.equal(
      statSync(join(dir.path, 'data', 'agent.json')).uid,
      uid,
      'the agent config belongs to the service user',
    );
  } finally {
    if (userExists(user)) execFileSync('userdel', [user]);
    await dir.remove();
  }
});
