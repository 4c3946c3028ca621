/**
 * The commands the images run, run for real from the built dist/ with the
 * environment the Dockerfiles and docker/compose.yaml set (host names, ports and paths
 * swapped for local ones), in compose's order: the broker-config job writes Mosquitto's
 * auth files from the hub's PostgreSQL store, Mosquitto starts with docker/mosquitto's
 * config, the hub connects to it, the enroll job enrolls three agents, Mosquitto rereads its
 * files (SIGHUP, as compose's loop does), and agent-1 starts from the config file the job
 * wrote. Each image's HEALTHCHECK command must pass; the agent must show up online at the
 * hub through Mosquitto; SIGTERM must end hub and agent with exit 0.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import pg from 'pg';
import { parse } from 'yaml';
import { freePort } from '../../hub/broker/mosquitto-process.js';
import { tempDir } from '../helpers/hub.js';
import { parseDockerfile } from './dockerfile-parse.js';
import { root, waitForOutput } from './process-helpers.js';

const TOKEN = 'entrypoint-test-admin-token-0123456789';
const BROKER_PASSWORD = 'entrypoint-test-broker-password-0123';
const MOSQUITTO = process.env.OUTPOST_MOSQUITTO ?? '/usr/sbin/mosquitto';

async function waitForPort(port: number, output: () => string): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const ok = await new Promise<boolean>((done) => {
      const socket = connect(port, '127.0.0.1', () => {
        socket.end();
        done(true);
      });
      socket.once('error', () => done(false));
    });
    if (ok) return;
    assert.ok(Date.now() < deadline, `nothing listens on ${port}: ${output()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** ENV of the runtime stage of a Dockerfile, plus its ENTRYPOINT + CMD and HEALTHCHECK argv. */
function image(file: string) {
  const stage = parseDockerfile(readFileSync(resolve(root, file), 'utf8')).stages.at(-1);
  assert.ok(stage);
  const env: Record<string, string> = {};
  for (const i of stage.instructions.filter((x) => x.keyword === 'ENV'))
    for (const m of i.args.matchAll(/(\w+)=(\S+)/g)) env[m[1] as string] = m[2] as string;
  const json = (keyword: string) =>
    JSON.parse(stage.instructions.find((i) => i.keyword === keyword)?.args ?? 'null') as string[];
  const health = stage.instructions.find((i) => i.keyword === 'HEALTHCHECK')?.args ?? '';
  const healthArgv = JSON.parse(health.slice(health.indexOf('CMD ') + 4)) as string[];
  return { env, argv: [...json('ENTRYPOINT'), ...json('CMD')], healthArgv };
}

/** Spawns `node ARGS` as the image would (or `binary` instead, for Mosquitto), collecting output. */
function spawnEntrypoint(
  argv: string[],
  env: Record<string, string>,
  binary?: string[],
): ChildProcess & { out: string[] } {
  const [cmd, ...args] = argv;
  assert.equal(cmd, 'node');
  const [file, ...fileArgs] = binary ?? [process.execPath, ...args];
  const child = spawn(file as string, fileArgs, { cwd: root, env: { PATH: process.env.PATH ?? '', ...env } });
  const out: string[] = [];
  child.stdout?.on('data', (d: Buffer) => out.push(d.toString()));
  child.stderr?.on('data', (d: Buffer) => out.push(d.toString()));
  return Object.assign(child, { out });
}

function run(argv: string[], env: Record<string, string>) {
  const [cmd, ...args] = argv;
  assert.equal(cmd, 'node');
  return new Promise<{ code: number; out: string }>((done) =>
    execFile(
      process.execPath,
      args,
      { cwd: root, env: { PATH: process.env.PATH ?? '', ...env } },
      (err, o, e) => done({ code: err ? Number(err.code ?? 1) : 0, out: o + e }),
    ),
  );
}

async function stop(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null) return child.exitCode;
  const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
  child.kill('SIGTERM');
  return exited;
}

test('broker-config job, Mosquitto, hub, enroll job and agent: the compose wiring runs for real and passes the healthchecks', async (t) => {
  assert.ok(existsSync(resolve(root, 'dist/cli/main.js')), 'dist/cli/main.js missing: run npx tsc -b first');
  if (!existsSync(MOSQUITTO)) {
    t.skip(`Mosquitto not found at ${MOSQUITTO} (apt-get install mosquitto, or set OUTPOST_MOSQUITTO)`);
    return;
  }
  const compose = parse(readFileSync(resolve(root, 'docker/compose.yaml'), 'utf8'), { merge: true });
  const dir = await tempDir('outpost-entrypoints-');
  const children: ChildProcess[] = [];
  const pgUrl = process.env.OUTPOST_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
  const pgSchema = `entrypoint_${process.pid}_${Date.now()}`;
  t.after(async () => {
    for (const c of [...children].reverse()) await stop(c);
    // The run's own PostgreSQL schema goes with it.
    const client = new pg.Client({ connectionString: pgUrl });
    await client.connect().then(
      () => client.query(`DROP SCHEMA IF EXISTS "${pgSchema}" CASCADE`).finally(() => client.end()),
      () => undefined,
    );
    await dir.remove();
  });

  // The compose hub env with the machine's services swapped in: PostgreSQL (db `test`, a
  // schema of this run's own) and a Mosquitto of this test on a free port, configured by
  // docker/mosquitto/mosquitto.conf with the auth directory moved to a temp dir.
  const authDir = join(dir.path, 'broker');
  const mqttPort = await freePort();
  // Mosquitto's second listener, for the hub only (devices use mqttPort).
  const hubMqttPort = await freePort();
  const hubImage = image('docker/Dockerfile.hub');
  const composeHubEnv = compose.services.hub.environment as Record<string, string>;
  assert.deepEqual(compose.services['broker-config'].environment, composeHubEnv, 'one hub env for both');
  const hubEnv: Record<string, string> = {
    ...hubImage.env,
    ...composeHubEnv,
    OUTPOST_HUB_ADMIN_TOKEN: TOKEN,
    OUTPOST_HUB_STORE__URL: pgUrl,
    OUTPOST_HUB_STORE__SCHEMA: pgSchema,
    OUTPOST_HUB_BROKER__URL: `mqtt://127.0.0.1:${hubMqttPort}`,
    OUTPOST_HUB_BROKER__PASSWORD: BROKER_PASSWORD,
    OUTPOST_HUB_BROKER__AUTH_DIR: authDir,
    OUTPOST_HUB_DATA_DIR: join(dir.path, 'hub'),
    OUTPOST_HUB_HTTP__HOST: '127.0.0.1',
    OUTPOST_HUB_HTTP__PORT: '0',
    OUTPOST_HUB_MQTT__HOST: '127.0.0.1',
    OUTPOST_HUB_MQTT__PORT: '0',
    OUTPOST_HUB_LOG_LEVEL: 'warn',
    OUTPOST_HUB_PUBLIC__MQTT_URL: `mqtt://127.0.0.1:${mqttPort}`,
  };
  // The public HTTP URL defaults to the hub's listener, whose port is picked at start.
  delete hubEnv.OUTPOST_HUB_PUBLIC__HTTP_URL;
  // Every compose value that interpolates a variable or names a container is replaced here.
  for (const [key, value] of Object.entries(composeHubEnv))
    if (/\$\{|mosquitto:|postgres:5432|\/data\//.test(value))
      assert.notEqual(hubEnv[key], value, `${key} still holds the compose value ${value}`);

  // 1. The broker-config job writes passwd/acl before the broker starts.
  const job = compose.services['broker-config'];
  const jobArgv = [...hubImage.argv.slice(0, 2), ...job.command].map((a: string) =>
    a === '/data/broker' ? authDir : a,
  );
  const configured = await run(jobArgv, hubEnv);
  assert.equal(configured.code, 0, configured.out);
  for (const f of ['passwd', 'acl', 'hub-passwd', 'hub-acl'])
    assert.ok(existsSync(join(authDir, f)), `${f} written`);
  // 2. Mosquitto with the compose config (paths and port local).
  const conf = readFileSync(resolve(root, 'docker/mosquitto/mosquitto.conf'), 'utf8')
    .replaceAll('/data/broker', authDir)
    .replace(/^listener 1883 0\.0\.0\.0$/m, `listener ${mqttPort} 127.0.0.1`)
    .replace(/^listener 1884 0\.0\.0\.0$/m, `listener ${hubMqttPort} 127.0.0.1`);
  assert.ok(conf.includes(`listener ${mqttPort}`) && conf.includes(`listener ${hubMqttPort}`));
  // Compose runs Mosquitto as the hub's uid, so it reads the hub's 0600 files without
  // dropping privileges; a root test run keeps root for the same reason.
  const asRoot = process.getuid?.() === 0 ? 'user root\n' : '';
  writeFileSync(join(dir.path, 'mosquitto.conf'), conf + asRoot);
  const mosquitto = spawnEntrypoint(['node'], {}, [MOSQUITTO, '-c', join(dir.path, 'mosquitto.conf')]);
  children.push(mosquitto);
  await waitForPort(mqttPort, () => mosquitto.out.join(''));
  // 3. The hub, connected to it.
  const hub = spawnEntrypoint(hubImage.argv, hubEnv);
  children.push(hub);
  const httpUrl = await waitForOutput(hub, /outpost hub: http (\S+)/, 'the hub to start');
  const mqttUrl = await waitForOutput(hub, /mqtt (mqtt:\/\/\S+)/, 'the hub broker');
  assert.equal(mqttUrl, `mqtt://127.0.0.1:${hubMqttPort}`);
  const hubPort = new URL(httpUrl).port;

  const hubHealth = await run(
    hubImage.healthArgv.map((a) => a.replace(':8080/', `:${hubPort}/`)),
    {},
  );
  assert.equal(hubHealth.code, 0, `hub HEALTHCHECK failed: ${hubHealth.out}`);

  // The compose enroll job: entrypoint + command, compose env, hub URL swapped.
  const agentImage = image('docker/Dockerfile.agent');
  const secrets = join(dir.path, 'secrets');
  const enroll = compose.services.enroll;
  const enrollArgv = [
    ...enroll.entrypoint,
    ...enroll.command.map((a: string) => (a === '/secrets' ? secrets : a)),
  ];
  const enrollEnv = {
    ...agentImage.env,
    ...enroll.environment,
    OUTPOST_CLI_HUB_URL: httpUrl,
    OUTPOST_CLI_ADMIN_TOKEN: TOKEN,
  };
  const enrolled = await run(enrollArgv, enrollEnv);
  assert.equal(enrolled.code, 0, enrolled.out);
  for (const id of ['agent-1', 'agent-2', 'agent-3']) {
    const file = join(secrets, `${id}.json`);
    assert.equal(statSync(file).mode & 0o777, 0o600, `${file} must be 0600`);
    const config = JSON.parse(readFileSync(file, 'utf8'));
    assert.equal(config.deviceId, id);
    assert.ok(config.deviceSecret.length >= 16);
    // From the join token: the agent can verify the models the hub signs.
    assert.ok(config.delivery.trustedKeys.length >= 1, 'the hub signing keys are in the config');
  }
  // The hub rewrote passwd for the new devices; the compose loop sends this SIGHUP every 5 s.
  mosquitto.kill('SIGHUP');
  const again = await run(enrollArgv, enrollEnv);
  assert.equal(again.code, 0, again.out);
  assert.match(again.out, /agent-1: already enrolled/);

  // agent-1 exactly as compose runs it, broker and hub URLs swapped for the local hub.
  const service = compose.services['agent-1'];
  const agentEnv: Record<string, string> = {
    ...agentImage.env,
    ...service.environment,
    OUTPOST_AGENT_HUB__MQTT_URL: `mqtt://127.0.0.1:${mqttPort}`,
    OUTPOST_AGENT_INFERENCE__HUB_HTTP_URL: httpUrl,
    OUTPOST_AGENT_DATA_DIR: join(dir.path, 'agent-1'),
    OUTPOST_AGENT_API__PORT: '0',
    OUTPOST_AGENT_LOG_LEVEL: 'warn',
  };
  const argv = [...agentImage.argv.slice(0, 2), ...service.command].map((a: string) =>
    a.startsWith('/secrets/') ? join(secrets, a.slice('/secrets/'.length)) : a,
  );
  const agent = spawnEntrypoint(argv, agentEnv);
  children.push(agent);
  const apiUrl = await waitForOutput(agent, /local API (\S+)/, 'the agent to start');
  const agentHealth = await run(
    agentImage.healthArgv.map((a) => a.replace(':7070/', `:${new URL(apiUrl).port}/`)),
    {},
  );
  assert.equal(agentHealth.code, 0, `agent HEALTHCHECK failed: ${agentHealth.out}`);

  const deadline = Date.now() + 30_000;
  for (;;) {
    const res = await fetch(`${httpUrl}/v1/devices`, { headers: { authorization: `Bearer ${TOKEN}` } });
    const { devices } = (await res.json()) as { devices: { id: string; online: boolean }[] };
    if (devices.find((d) => d.id === 'agent-1')?.online) break;
    assert.ok(Date.now() < deadline, `agent-1 never came online: ${agent.out.join('')}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  assert.equal(await stop(agent), 0, agent.out.join(''));
  assert.equal(await stop(hub), 0, hub.out.join(''));
});
