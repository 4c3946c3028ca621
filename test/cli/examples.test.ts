import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { test } from 'node:test';
import { AGENT_ENV_PREFIX, AgentConfigSchema } from '../../agent/index.js';
import { loadConfig, stripJsonComments } from '../../cli/load-config.js';
import { HUB_ENV_PREFIX, HubConfigSchema } from '../../hub/index.js';
import { root } from '../packaging/process-helpers.js';

test('the commented example configs in examples/ load as they are', () => {
  assert.deepEqual(readdirSync(resolve(root, 'examples')).sort(), ['agent.jsonc', 'hub.jsonc']);
  const hub = loadConfig(
    HubConfigSchema,
    HUB_ENV_PREFIX,
    { config: resolve(root, 'examples/hub.jsonc') },
    {},
  );
  assert.equal(hub.public.mqttUrl, 'mqtt://hub.example.org:1883');
  assert.equal(hub.http.port, 8080);
  const agent = loadConfig(
    AgentConfigSchema,
    AGENT_ENV_PREFIX,
    { config: resolve(root, 'examples/agent.jsonc') },
    {},
  );
  assert.equal(agent.deviceId, 'pi-01');
  assert.deepEqual(agent.delivery.trustedKeyFiles, ['/etc/outpost/hub-signing-key.pem']);
});

test('comments are stripped outside strings only', () => {
  const text = '{"url": "http://x//y", /* note */ "a": "/*not*/" // end\n}';
  assert.deepEqual(JSON.parse(stripJsonComments(text)), { url: 'http://x//y', a: '/*not*/' });
  assert.deepEqual(JSON.parse(stripJsonComments('{"q": "say \\"hi\\" // no"}')), { q: 'say "hi" // no' });
});
