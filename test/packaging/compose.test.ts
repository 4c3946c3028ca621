/**
 * docker/compose.yaml: valid for `docker-compose config -q` (Debian's
 * docker-compose, installed by .ci/run; skipped with a message where absent), and
 * structurally what docs/operations.md promises: hub on PostgreSQL and Mosquitto, three agents
 * enrolled by a one-shot job, health-gated start order, no secret baked in, and every
 * OUTPOST_AGENT_* variable a key the agent's config schema knows.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { test } from 'node:test';
import { parse } from 'yaml';
import { AgentConfigSchema } from '../../agent/index.js';
import { configFromEnv } from '../../shared/index.js';
import { repoRoot } from '../helpers/paths.js';

const root = repoRoot;
const composePath = resolve(root, 'docker/compose.yaml');

// biome-ignore lint/suspicious/noExplicitAny: compose is arbitrary YAML
type Any = any;

function hasDockerCompose(): Promise<boolean> {
  return new Promise((done) => execFile('docker-compose', ['version'], (err) => done(err === null)));
}

test('docker-compose config -q accepts docker/compose.yaml, and refuses it without an admin token', async (t) => {
  if (!(await hasDockerCompose())) {
    t.skip('docker-compose is not installed (CI installs it: apt-get install docker-compose)');
    return;
  }
  const run = (env: Record<string, string>) =>
    new Promise<{ code: number; stderr: string }>((done) => {
      const { OUTPOST_ADMIN_TOKEN: _, OUTPOST_BROKER_PASSWORD: __, ...base } = process.env;
      execFile(
        'docker-compose',
        ['-f', composePath, 'config', '-q'],
        { env: { ...base, ...env } },
        (err, _o, stderr) => done({ code: err ? Number(err.code ?? 1) : 0, stderr }),
      );
    });
  const ok = await run({
    OUTPOST_ADMIN_TOKEN: 'compose-test-token-0123456789',
    OUTPOST_BROKER_PASSWORD: 'compose-test-broker-password-0123',
  });
  assert.equal(ok.code, 0, ok.stderr);
  const missing = await run({ OUTPOST_BROKER_PASSWORD: 'compose-test-broker-password-0123' });
  assert.notEqual(missing.code, 0);
  assert.match(missing.stderr, /OUTPOST_ADMIN_TOKEN/);
});

test('compose: hub on PostgreSQL and Mosquitto, three enrolled agents, health-gated order', () => {
  const compose: Any = parse(readFileSync(composePath, 'utf8'), { merge: true });
  const services = compose.services as Record<string, Any>;
  for (const name of [
    'hub',
    'postgres',
    'mosquitto',
    'broker-config',
    'enroll',
    'agent-1',
    'agent-2',
    'agent-3',
  ])
    assert.ok(services[name], `service ${name} missing`);
  for (const name of ['postgres', 'mosquitto'])
    assert.match(services[name].image, /:\d+\.\d+(\.\d+)?(-[a-z]+)?$/, `${name} image is not pinned`);
  assert.equal(services.hub.build.dockerfile, 'docker/Dockerfile.hub');
  assert.equal(services.hub.depends_on.postgres.condition, 'service_healthy');
  assert.ok(services.hub.healthcheck.test.join(' ').includes('/healthz'));
  assert.ok(services.postgres.healthcheck.test.join(' ').includes('pg_isready'));
  const hubEnv = services.hub.environment as Record<string, string>;
  assert.match(hubEnv.OUTPOST_HUB_STORE__URL ?? '', /^postgres:\/\/[^@]+@postgres:5432\//);
  // The hub on Mosquitto's hub-only listener; devices on 1883.
  assert.equal(hubEnv.OUTPOST_HUB_BROKER__URL, 'mqtt://mosquitto:1884');
  assert.match(hubEnv.OUTPOST_HUB_BROKER__PASSWORD ?? '', /^\$\{OUTPOST_BROKER_PASSWORD:\?/);
  // The broker's auth files: written by the job before Mosquitto starts, then kept by the hub.
  assert.equal(hubEnv.OUTPOST_HUB_BROKER__AUTH_DIR, '/data/broker');
  assert.ok(services.hub.volumes.includes('broker-auth:/data/broker'));
  assert.ok(services['broker-config'].volumes.includes('broker-auth:/data/broker'));
  assert.ok(services.mosquitto.volumes.includes('broker-auth:/data/broker:ro'));
  assert.equal(services.mosquitto.depends_on['broker-config'].condition, 'service_completed_successfully');
  assert.equal(
    services.mosquitto.user,
    '1000:1000',
    'Mosquitto reads the hub-owned 0600 files as their owner',
  );
  assert.deepEqual(services['broker-config'].command, ['hub', 'broker-config', '--out', '/data/broker']);
  assert.match(
    hubEnv.OUTPOST_HUB_ADMIN_TOKEN ?? '',
    /^\$\{OUTPOST_ADMIN_TOKEN:\?/,
    'admin token must come from the environment',
  );
  assert.equal(services.enroll.depends_on.hub.condition, 'service_healthy');
  assert.deepEqual(services.enroll.command.slice(1), ['agent-1', 'agent-2', 'agent-3']);
  for (const id of ['agent-1', 'agent-2', 'agent-3']) {
    const agent = services[id];
    assert.equal(agent.build.dockerfile, 'docker/Dockerfile.agent');
    assert.equal(agent.depends_on.enroll.condition, 'service_completed_successfully');
    assert.deepEqual(agent.command, ['agent', '--config', `/secrets/${id}.json`]);
    assert.ok(agent.volumes.includes(`${id}-data:/data`), `${id} keeps its own store`);
    // Every env key must be one the agent accepts (the schema is strict); the id and secret
    // come from the config file the enroll job writes.
    const config = {
      ...configFromEnv(agent.environment, 'OUTPOST_AGENT_'),
      deviceId: id,
      deviceSecret: 'x'.repeat(32),
    };
    const parsed = AgentConfigSchema.safeParse(config);
    assert.ok(parsed.success, `${id}: ${JSON.stringify(parsed.error?.issues)}`);
    assert.equal(parsed.data.hub.mqttUrl, 'mqtt://mosquitto:1883');
  }
  assert.ok(services.mosquitto.volumes.some((v: string) => v.startsWith('./mosquitto/mosquitto.conf:')));
  const conf = readFileSync(resolve(root, 'docker/mosquitto/mosquitto.conf'), 'utf8');
  assert.match(conf, /^allow_anonymous false$/m);
  assert.match(conf, /^password_file \/data\/broker\/passwd$/m);
  assert.match(conf, /^acl_file \/data\/broker\/acl$/m);
  assert.match(conf, /^per_listener_settings true$/m);
  assert.match(conf, /^use_username_as_clientid true$/m);
  assert.match(conf, /^password_file \/data\/broker\/hub-passwd$/m);
  assert.match(conf, /^acl_file \/data\/broker\/hub-acl$/m);
});
