import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startApi } from '../../agent/api/server.js';
import { type Agent, createAgent } from '../../agent/index.js';
import { LANES, OutpostError } from '../../shared/index.js';
import { agentTestConfig, FaultProxy, tempDir, testLogger } from '../helpers/agent.js';

// The local HTTP API over a real socket, with the hub unreachable (a proxy that drops everything).

describe('agent local API', () => {
  const dir = tempDir();
  const proxy = new FaultProxy();
  let agent: Agent;
  before(async () => {
    const mqttUrl = await proxy.listen();
    agent = await createAgent(
      agentTestConfig({
        deviceId: 'dev-api',
        deviceSecret: 'a-device-secret-of-some-length',
        dataDir: dir.path,
        hub: { mqttUrl },
        outbox: { batchMaxBytes: 2048 },
      }),
      { logger: testLogger() },
    );
  });
  after(async () => {
    await agent.close();
    await proxy.close();
    dir.remove();
  });

  async function call(method: string, path: string, body?: string, type = 'application/json') {
    const res = await fetch(`${agent.api.url}${path}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': type },
      body,
    });
    // biome-ignore lint/suspicious/noExplicitAny: tests read arbitrary JSON
    return { status: res.status, body: (await res.json()) as any };
  }

  it('listens on loopback on a free port', () => {
    assert.match(agent.api.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.ok(agent.api.port > 0);
    assert.equal(agent.api.url, `http://127.0.0.1:${agent.api.port}`);
  });

  it('GET /v1/status answers the agent status', async () => {
    const res = await call('GET', '/v1/status');
    assert.equal(res.status, 200);
    // The free disk space moves with whatever else writes to that filesystem: compared apart.
    const { disk, ...rest } = res.body;
    const { disk: _disk, ...expected } = JSON.parse(JSON.stringify(agent.status()));
    assert.deepEqual(rest, expected);
    assert.equal(disk.dataDir, dir.path);
    assert.ok(disk.freeBytes > 0 && disk.reserveBytes === 8 * 1024 * 1024, JSON.stringify(disk));
    assert.equal(res.body.deviceId, 'dev-api');
    assert.equal(res.body.epoch, agent.epoch);
    assert.deepEqual(Object.keys(res.body.outbox), [...LANES]);
    assert.deepEqual(Object.keys(res.body.link).sort(), [
      'connected',
      'connects',
      'deadLinks',
      'lastError',
      'pingRttMs',
      'since',
    ]);
    assert.equal(res.body.link.connected, false);
    assert.deepEqual(res.body.desired, { appliedRev: 0, outcome: null });
    assert.deepEqual(res.body.inbound, {
      invalid: { total: 0, byReason: {} },
      // No hub message yet: its protocol version is unknown, nothing tolerated or refused.
      protocol: { speaks: '1.1', hub: null, refusals: [], tolerated: { total: 0, byItem: {} } },
    });
  });

  it('POST /v1/events stores the event durably and answers 202 with its lane and seq', async () => {
    const first = await call('POST', '/v1/events', JSON.stringify({ type: 'door.open', body: { door: 2 } }));
    assert.deepEqual(first, { status: 202, body: { lane: 'telemetry', seq: 1 } });
    const second = await call(
      'POST',
      '/v1/events',
      JSON.stringify({ type: 'r', body: null, lane: 'results' }),
    );
    assert.deepEqual(second, { status: 202, body: { lane: 'results', seq: 1 } });
    assert.equal(agent.status().outbox.telemetry.pending, 1);
    assert.equal(agent.status().outbox.results.pending, 1);
  });

  it('answers an invalid event with AGENT_BAD_REQUEST naming every problem', async () => {
    const res = await call(
      'POST',
      '/v1/events',
      JSON.stringify({ type: 'Bad Type', lane: 'fast', extra: 1 }),
    );
    assert.equal(res.status, 400);
    assert.equal(res.body.error.code, 'AGENT_BAD_REQUEST');
    for (const path of ['type: ', 'body: ', 'lane: ', 'extra']) {
      assert.ok(res.body.error.message.includes(path), `${path} in ${res.body.error.message}`);
    }
    const notJson = await call('POST', '/v1/events', '{"type":', 'application/json');
    assert.equal(notJson.status, 400);
    assert.equal(notJson.body.error.code, 'AGENT_BAD_REQUEST');
    const array = await call('POST', '/v1/events', '[]');
    assert.equal(array.body.error.code, 'AGENT_BAD_REQUEST');
    const text = await call('POST', '/v1/events', 'hello', 'text/plain');
    assert.equal(text.body.error.code, 'AGENT_BAD_REQUEST');
  });

  it('refuses an event larger than a batch with PROTO_PAYLOAD_TOO_LARGE, burning no seq', async () => {
    const before = agent.status().outbox.learning.enqueued;
    const res = await call(
      'POST',
      '/v1/events',
      JSON.stringify({ type: 'big', body: 'x'.repeat(4000), lane: 'learning' }),
    );
    assert.equal(res.status, 413);
    assert.equal(res.body.error.code, 'PROTO_PAYLOAD_TOO_LARGE');
    assert.equal(agent.status().outbox.learning.enqueued, before);
  });

  it('answers unknown routes with AGENT_NOT_FOUND', async () => {
    const res = await call('GET', '/v1/nope');
    assert.equal(res.status, 404);
    assert.equal(res.body.error.code, 'AGENT_NOT_FOUND');
  });

  it('answers AGENT_CLOSED while the agent is closing', async () => {
    const closing = await startApi({
      host: '127.0.0.1',
      port: 0,
      status: () => agent.status(),
      enqueue: () => ({ lane: 'telemetry', seq: 0 }),
      isClosing: () => true,
      log: testLogger(),
    });
    try {
      const res = await fetch(`${closing.url}/v1/status`);
      assert.equal(res.status, 503);
      assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'AGENT_CLOSED');
    } finally {
      await closing.close();
    }
  });

  it('validates programmatic events the same way', () => {
    assert.throws(
      () => agent.enqueue({ type: 'n', body: { big: 10n } }),
      (err: unknown) =>
        err instanceof OutpostError && err.code === 'AGENT_BAD_REQUEST' && /body: /.test(err.message),
    );
    assert.throws(
      () => agent.enqueue({ type: 'n', body: 1, lane: 'bulk' as never }),
      (err: unknown) =>
        err instanceof OutpostError && err.code === 'AGENT_BAD_REQUEST' && /lane: /.test(err.message),
    );
    assert.deepEqual(agent.enqueue({ type: 'n', body: undefined, lane: 'control' }), {
      lane: 'control',
      seq: 1,
    });
  });
});
