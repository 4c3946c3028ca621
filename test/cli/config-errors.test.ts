import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { runCli } from './run-cli.js';

test('a bad agent config lists every offending field and exits 2', async () => {
  const { code, stderr } = await runCli(
    ['agent', '--device-id', 'a/b', '--api.port', 'x', '--durability', 'maybe'],
    {
      OUTPOST_AGENT_DEVICE_SECRET: 'short',
    },
  );
  assert.equal(code, 2);
  for (const field of ['deviceId', 'deviceSecret', 'api.port', 'durability']) {
    assert.match(stderr, new RegExp(`^\\s+${field.replace('.', '\\.')}: `, 'm'), field);
  }
});

test('a bad hub config from file, env and flags lists every field and exits 2', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'outpost-cli-'));
  const file = join(dir, 'hub.json');
  await writeFile(file, JSON.stringify({ http: { port: 99999 }, colour: 'blue' }));
  const { code, stderr } = await runCli(['hub', '--config', file, '--log-level', 'loud'], {
    OUTPOST_HUB_MQTT__PORT: 'eighty',
  });
  assert.equal(code, 2);
  for (const field of ['http.port', 'mqtt.port', 'logLevel'])
    assert.match(stderr, new RegExp(`${field}: `), field);
  assert.match(stderr, /Unrecognized key: "colour"/);
});

test('a missing config file is named', async () => {
  const { code, stderr } = await runCli(['hub', '--config', '/nonexistent/hub.json']);
  assert.equal(code, 2);
  assert.match(stderr, /cannot read config file \/nonexistent\/hub\.json/);
});

test('unknown commands and devices actions are usage errors', async () => {
  assert.equal((await runCli(['frobnicate'])).code, 2);
  const devices = await runCli(['devices', 'rename'], { OUTPOST_CLI_ADMIN_TOKEN: 'x'.repeat(16) });
  assert.equal(devices.code, 2);
  assert.match(devices.stderr, /unknown devices action "rename"/);
});

test('devices list says when the hub cannot be reached and exits 3', async () => {
  const { code, stderr } = await runCli(['devices', 'list', '--hub', 'http://127.0.0.1:9'], {
    OUTPOST_CLI_ADMIN_TOKEN: 'x'.repeat(16),
  });
  assert.equal(code, 3);
  assert.match(stderr, /cannot reach the hub at http:\/\/127\.0\.0\.1:9/);
});
