import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AgentConfigSchema } from '../../agent/config.js';
import { HubConfigSchema } from '../../hub/config.js';
import { ConfigError, configFromEnv, configFromFlags, mergeConfig, parseConfig } from '../../shared/index.js';

test('env variables nest on __ and camelCase on _', () => {
  assert.deepEqual(
    configFromEnv(
      { OUTPOST_HUB_HTTP__PORT: '9000', OUTPOST_HUB_DATA_DIR: '/var/lib/hub', OTHER: 'x', OUTPOST_HUB_: 'y' },
      'OUTPOST_HUB_',
    ),
    { http: { port: '9000' }, dataDir: '/var/lib/hub' },
  );
});

test('flags nest on dots, camelCase kebab names and keep positionals', () => {
  assert.deepEqual(configFromFlags(['list', '--http.port', '0', '--data-dir=/d', '--json', 'x']), {
    config: { http: { port: '0' }, dataDir: '/d', json: 'x' },
    positionals: ['list'],
  });
  assert.deepEqual(configFromFlags(['--json']).config, { json: true });
  assert.deepEqual(configFromFlags(['--label', 'a=1', '--label=b=2', '--label', 'c=3']).config, {
    label: ['a=1', 'b=2', 'c=3'],
  });
});

test('later sources win, objects merge deeply', () => {
  assert.deepEqual(
    mergeConfig({ http: { port: 1, host: 'a' } }, { http: { port: 2 } }, { logLevel: 'warn' }),
    {
      http: { port: 2, host: 'a' },
      logLevel: 'warn',
    },
  );
});

test('a parsed config is frozen and typed from strings', () => {
  const config = parseConfig(
    HubConfigSchema,
    { http: { port: 8000 } },
    configFromFlags(['--http.port', '0']).config,
  );
  assert.equal(config.http.port, 0);
  assert.equal(config.mqtt.port, 1883);
  assert.ok(Object.isFrozen(config.http));
  assert.throws(() => {
    (config.http as { port: number }).port = 1;
  }, TypeError);
});

test('a bad config lists every offending field', () => {
  try {
    parseConfig(
      AgentConfigSchema,
      { deviceId: 'a/b', deviceSecret: 'short', api: { port: '70000' }, durability: 'maybe', bogus: 1 },
      configFromEnv({ OUTPOST_AGENT_LINK__KEEPALIVE_S: 'soon' }, 'OUTPOST_AGENT_'),
    );
    assert.fail('expected a ConfigError');
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    const paths = err.problems.map((p) => p.split(':')[0]).sort();
    assert.deepEqual(paths, [
      '(root)',
      'api.port',
      'deviceId',
      'deviceSecret',
      'durability',
      'link.keepaliveS',
    ]);
    assert.match(err.message, /Unrecognized key: "bogus"/);
  }
});
