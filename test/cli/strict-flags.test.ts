import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { AGENT_ENV_PREFIX, AgentConfigSchema } from '../../agent/index.js';
import { parseCommandArgs } from '../../cli/args.js';
import { agentUrl, hubEndpoint } from '../../cli/client-settings.js';
import { COMMAND_FLAGS } from '../../cli/command-flags.js';
import { loadConfig } from '../../cli/load-config.js';
import { HUB_ENV_PREFIX, HubConfigSchema } from '../../hub/index.js';
import { OUTPOST_VERSION } from '../../shared/index.js';
import { repoRoot } from '../helpers/paths.js';
import { runCli } from './run-cli.js';

const SECRET = { OUTPOST_AGENT_DEVICE_SECRET: 's'.repeat(24) };

test('a typo in a client flag exits 2 before anything is sent, with a suggestion', async () => {
  const rollout = await runCli(
    [
      'rollouts',
      'create',
      '--model',
      'm',
      '--version',
      '1.0.0',
      '--typo-flag',
      '3',
      '--hub',
      'http://127.0.0.1:9',
    ],
    { OUTPOST_CLI_ADMIN_TOKEN: 'x'.repeat(16) },
  );
  assert.equal(rollout.code, 2, rollout.stderr);
  assert.match(rollout.stderr, /unknown option --typo-flag for 'outpost rollouts'/);
  assert.doesNotMatch(rollout.stderr, /cannot reach the hub/);
  const devices = await runCli(['devices', 'list', '--jsno']);
  assert.equal(devices.code, 2);
  assert.match(devices.stderr, /did you mean --json\?/);
});

test('hub and agent reject a misspelt setting with the nearest real one', async () => {
  const hub = await runCli(['hub', '--htp.port', '0']);
  assert.equal(hub.code, 2);
  assert.match(hub.stderr, /unknown option --htp\.port for 'outpost hub'; did you mean --http\.port\?/);
  const agent = await runCli(['agent', '--device-id', 'a', '--delivery.trusted-key-file', 'k.pem'], SECRET);
  assert.equal(agent.code, 2);
  assert.match(agent.stderr, /did you mean --delivery\.trusted-key-files\?/);
  const missing = await runCli(['devices', 'add', 'x', '--name']);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /--name/);
});

test('array settings come from env as JSON and from repeated or JSON flags', () => {
  const fromEnv = loadConfig(
    AgentConfigSchema,
    AGENT_ENV_PREFIX,
    parseCommandArgs(['--device-id', 'a'], COMMAND_FLAGS.agent ?? [], 'agent').flags,
    {
      ...SECRET,
      OUTPOST_AGENT_DELIVERY__TRUSTED_KEY_FILES: '["/keys/a.pem","/keys/b.pem"]',
    },
  );
  assert.deepEqual(fromEnv.delivery.trustedKeyFiles, ['/keys/a.pem', '/keys/b.pem']);
  const single = loadConfig(
    AgentConfigSchema,
    AGENT_ENV_PREFIX,
    { deviceId: 'a' },
    {
      ...SECRET,
      OUTPOST_AGENT_DELIVERY__TRUSTED_KEY_FILES: '/keys/one.pem',
    },
  );
  assert.deepEqual(single.delivery.trustedKeyFiles, ['/keys/one.pem']);
  for (const argv of [
    ['--delivery.trusted-key-files', '/k/a.pem', '--delivery.trusted-key-files', '/k/b.pem'],
    ['--delivery.trusted-key-files', '["/k/a.pem","/k/b.pem"]'],
  ]) {
    const { flags } = parseCommandArgs(['--device-id', 'a', ...argv], COMMAND_FLAGS.agent ?? [], 'agent');
    const config = loadConfig(AgentConfigSchema, AGENT_ENV_PREFIX, flags, SECRET);
    assert.deepEqual(config.delivery.trustedKeyFiles, ['/k/a.pem', '/k/b.pem'], argv.join(' '));
  }
  const routes = parseCommandArgs(
    ['--inference.routes', '{"digits":"hub"}'],
    COMMAND_FLAGS.agent ?? [],
    'agent',
  );
  assert.deepEqual(routes.flags, { inference: { routes: { digits: 'hub' } } });
});

test('client settings live in OUTPOST_CLI_* and never reach the hub or agent config', () => {
  const clientEnv = {
    OUTPOST_CLI_HUB_URL: 'http://hub.example:8080',
    OUTPOST_CLI_AGENT_URL: 'http://127.0.0.1:7070',
    OUTPOST_CLI_ADMIN_TOKEN: 't'.repeat(20),
  };
  const hub = loadConfig(HubConfigSchema, HUB_ENV_PREFIX, {}, clientEnv);
  assert.equal(hub.http.port, 8080);
  const agent = loadConfig(
    AgentConfigSchema,
    AGENT_ENV_PREFIX,
    { deviceId: 'a' },
    { ...clientEnv, ...SECRET },
  );
  assert.equal(agent.deviceId, 'a');
});

test('models list --registry NAME asks the hub about NAME', () => {
  const { flags, positionals } = parseCommandArgs(
    ['list', '--registry', 'digits'],
    COMMAND_FLAGS.models ?? [],
    'models',
  );
  assert.equal(flags.registry, true);
  assert.deepEqual(positionals, ['list', 'digits']);
});

test('outpost --version prints the package version', async () => {
  const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8'));
  assert.equal(OUTPOST_VERSION, pkg.version, 'shared/version.ts must follow package.json');
  const { code, stdout } = await runCli(['--version']);
  assert.equal(code, 0);
  assert.equal(stdout.trim(), pkg.version);
});

test('public URLs come from flags and env; client URLs and token from OUTPOST_CLI_*', () => {
  const { flags } = parseCommandArgs(
    ['--public.http-url', 'https://hub.example.org'],
    COMMAND_FLAGS.hub ?? [],
    'hub',
  );
  const hub = loadConfig(HubConfigSchema, HUB_ENV_PREFIX, flags, {
    OUTPOST_HUB_PUBLIC__MQTT_URL: 'mqtts://hub.example.org:8883',
  });
  assert.deepEqual(
    { ...hub.public },
    { mqttUrl: 'mqtts://hub.example.org:8883', httpUrl: 'https://hub.example.org' },
  );
  const env = {
    OUTPOST_CLI_HUB_URL: 'http://hub.example:8080',
    OUTPOST_CLI_AGENT_URL: 'http://device.example:7070',
    OUTPOST_CLI_ADMIN_TOKEN: 't'.repeat(20),
  };
  assert.deepEqual(hubEndpoint({}, env), { url: 'http://hub.example:8080', token: 't'.repeat(20) });
  assert.equal(agentUrl({}, env), 'http://device.example:7070');
  assert.equal(agentUrl({ agent: 'http://other:1' }, env), 'http://other:1');
  assert.throws(() => hubEndpoint({}, {}), /OUTPOST_CLI_ADMIN_TOKEN/);
});
