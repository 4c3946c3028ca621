/**
 * Attacks on the agent's local API (DNS rebinding, a foreign page, a missing token, an open
 * bind) and on the files hub and agent leave on disk (who may read their stores).
 */

import { existsSync, statSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { after, before, describe } from 'node:test';
import { type Agent, AgentConfigSchema, createAgent } from '../../agent/index.js';
import { runCli } from '../cli/run-cli.js';
import { agentTestConfig, FaultProxy, tempDir, testLogger } from '../helpers/agent.js';
import { startHub } from '../helpers/hub.js';
import { attack } from './harness.js';

const TOKEN = 'local-api-token-for-the-attack-suite';

/** One request with full control of the headers (fetch will not send a foreign Host). */
function call(url: string, method: string, path: string, headers: Record<string, string>, body?: string) {
  const { hostname, port } = new URL(url);
  return new Promise<number>((resolve, reject) => {
    const req = httpRequest({ host: hostname, port: Number(port), method, path, headers }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const EVENT = JSON.stringify({ type: 'attack.event', body: { n: 1 } });

describe('agent local API and file attacks', () => {
  const dir = tempDir('outpost-attack-agent-');
  const proxy = new FaultProxy();
  let open: Agent;
  let guarded: Agent;

  before(async () => {
    const mqttUrl = await proxy.listen();
    const base = { deviceSecret: 'a-device-secret-of-some-length', hub: { mqttUrl } };
    open = await createAgent(
      agentTestConfig({
        ...base,
        deviceId: 'api-open',
        dataDir: join(dir.path, 'a', 'data'),
        api: { port: 0, allowedHosts: 'device.local', allowedOrigins: ['http://app.local:3000'] },
      }),
      {
        logger: testLogger(),
      },
    );
    guarded = await createAgent(
      agentTestConfig({
        ...base,
        deviceId: 'api-token',
        dataDir: join(dir.path, 'b'),
        api: { port: 0, token: TOKEN },
      }),
      { logger: testLogger() },
    );
  });
  after(async () => {
    await open?.close();
    await guarded?.close();
    await proxy.close();
    dir.remove();
  });

  attack('agent: DNS rebinding and foreign origins on the local API', async () => {
    const port = open.api.port;
    const json = { 'content-type': 'application/json' };
    const attempts: Array<[string, string, Record<string, string>]> = [
      ['GET', '/v1/status', { host: `rebind.attacker.example:${port}` }],
      ['GET', '/v1/status', { host: `localhost.attacker.example:${port}` }],
      ['POST', '/v1/events', { ...json, host: `rebind.attacker.example:${port}` }],
      ['POST', '/v1/events', { ...json, host: `127.0.0.1:${port}`, origin: 'http://attacker.example' }],
      ['GET', '/v1/status', { host: `127.0.0.1:${port}`, origin: 'https://attacker.example' }],
      ['POST', '/v1/events', { ...json, host: `127.0.0.1:${port}`, origin: 'null' }],
    ];
    const through: string[] = [];
    for (const [method, path, headers] of attempts) {
      const status = await call(open.api.url, method, path, headers, method === 'POST' ? EVENT : undefined);
      if (status < 300) through.push(`${method} ${path} ${JSON.stringify(headers)} → ${status}`);
    }
    // The legitimate local caller still gets through, or the guard proves nothing.
    // Legitimate callers still get through, or the guard proves nothing: loopback, a host
    // name and a page origin the operator allowed (api.allowedHosts, api.allowedOrigins).
    const legitimate: Array<Record<string, string>> = [
      { host: `127.0.0.1:${port}` },
      { host: `device.local:${port}`, origin: 'http://app.local:3000' },
      { host: `localhost:${port}`, origin: 'http://localhost:5173' },
    ];
    for (const headers of legitimate) {
      const own = await call(open.api.url, 'POST', '/v1/events', { ...json, ...headers }, EVENT);
      if (own !== 202) throw new Error(`a legitimate caller ${JSON.stringify(headers)} got ${own}`);
    }
    return through.length === 0 ? undefined : through.join('; ');
  });

  attack('agent: local API without or with a wrong bearer token', async () => {
    const host = { host: `127.0.0.1:${guarded.api.port}` };
    const through: string[] = [];
    for (const authorization of [
      undefined,
      'Bearer wrong-token-wrong-token',
      `Basic ${TOKEN}`,
      `Bearer ${TOKEN}x`,
    ]) {
      const headers = authorization === undefined ? host : { ...host, authorization };
      const status = await call(guarded.api.url, 'GET', '/v1/status', headers);
      if (status < 300) through.push(`${authorization ?? 'none'} → ${status}`);
    }
    const own = await call(guarded.api.url, 'GET', '/v1/status', {
      ...host,
      authorization: `Bearer ${TOKEN}`,
    });
    if (own !== 200) throw new Error(`the right token got ${own}`);
    return through.length === 0 ? undefined : through.join('; ');
  });

  attack('agent: local API on a non-loopback address without a token', async () => {
    const data = join(dir.path, 'exposed');
    const args = ['agent', '--device-id', 'exposed', '--device-secret', 'a-device-secret-of-some-length'];
    const run = await runCli([...args, '--data-dir', data, '--api.host', '0.0.0.0', '--api.port', '0']);
    if (run.code !== 2 || !/api\.token/.test(run.stderr)) {
      return `the agent did not refuse to start (exit ${run.code}): ${run.stderr.slice(0, 200)}`;
    }
    // Explicitly allowed, the same config is valid.
    const allowed = AgentConfigSchema.safeParse({
      deviceId: 'exposed',
      deviceSecret: 'a-device-secret-of-some-length',
      api: { host: '0.0.0.0', allowUnauthenticated: 'true' },
    });
    if (!allowed.success) throw new Error(`api.allowUnauthenticated was refused: ${allowed.error.message}`);
    return undefined;
  });

  attack('files: hub and agent stores readable by other users', async () => {
    const hubData = join(dir.path, 'hub', 'nested', 'data');
    const hub = await startHub(hubData);
    const loose: string[] = [];
    const check = (path: string, mode: number) => {
      if (!existsSync(path)) return;
      const actual = statSync(path).mode & 0o777;
      if (actual & ~mode) loose.push(`${path} is ${actual.toString(8)}`);
    };
    try {
      check(hubData, 0o700);
      for (const f of ['hub.db', 'hub.db-wal', 'hub.db-shm', 'admin-token']) check(join(hubData, f), 0o600);
    } finally {
      await hub.close();
    }
    const agentData = join(dir.path, 'a', 'data');
    check(agentData, 0o700);
    for (const f of ['agent.db', 'agent.db-wal', 'agent.db-shm']) check(join(agentData, f), 0o600);
    if (!existsSync(join(hubData, 'hub.db')) || !existsSync(join(agentData, 'agent.db'))) {
      throw new Error('no store file to check');
    }
    return loose.length === 0 ? undefined : loose.join('; ');
  });
});
