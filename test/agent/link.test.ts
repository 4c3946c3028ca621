import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createAgent } from '../../agent/index.js';
import { OutpostError, type Status } from '../../shared/index.js';
import { agentTestConfig, FaultProxy, TestBroker, tempDir, testLogger, waitFor } from '../helpers/agent.js';

// The MQTT link's connection life cycle against a bare broker behind a fault proxy.

const SECRET = 'a-device-secret-of-some-length';

describe('agent link', () => {
  let tb: TestBroker;
  let proxy: FaultProxy;
  let url: string;
  const dir = tempDir();
  before(async () => {
    tb = await TestBroker.start();
    proxy = new FaultProxy();
    url = await proxy.listen();
    proxy.setTarget(tb.url);
  });
  after(async () => {
    await proxy.close();
    await tb.close();
    dir.remove();
  });

  const start = (deviceId: string, mqttUrl = url) =>
    createAgent(
      agentTestConfig({
        deviceId,
        deviceSecret: SECRET,
        dataDir: `${dir.path}/${deviceId}`,
        hub: { mqttUrl },
      }),
      { logger: testLogger() },
    );

  it('reconnects after a cut, with a fresh connection id in each will, and resends', async () => {
    const agent = await start('dev-cut');
    try {
      await waitFor(() => agent.status().link.connected, 'connected');
      proxy.refuse(true);
      proxy.cut();
      await waitFor(() => !agent.status().link.connected, 'disconnected');
      const lastError = agent.status().link.lastError;
      assert.equal(typeof lastError, 'string');
      agent.enqueue({ type: 'while.down', body: 1 });
      const attemptsBefore = tb.connects.filter((c) => c.clientId === 'dev-cut').length;
      proxy.refuse(false);
      await waitFor(() => agent.status().outbox.telemetry.acked === 1, 'delivered after reconnect');
      assert.equal(agent.status().link.connects, 2);

      const attempts = tb.connects.filter((c) => c.clientId === 'dev-cut');
      assert.ok(attempts.length > attemptsBefore);
      const conns = attempts.map((c) => (JSON.parse(c.will?.payload ?? '{}') as Status).conn);
      assert.equal(new Set(conns).size, conns.length, 'every connection has its own conn id');
      const onlines = tb.messages<Status>('outpost/v1/d/dev-cut/status').filter((s) => s.state === 'online');
      assert.deepEqual(
        onlines.map((s) => s.conn),
        [conns[0], conns.at(-1)],
        'each online status names the will of its connection',
      );
    } finally {
      await agent.close();
    }
  });

  it('on close: publishes a retained offline status, disconnects, refuses further work; idempotent', async () => {
    const agent = await start('dev-close');
    await waitFor(() => agent.status().link.connected, 'connected');
    const online = await waitFor(
      () => tb.messages<Status>('outpost/v1/d/dev-close/status').find((s) => s.state === 'online'),
      'online',
    );
    await Promise.all([agent.close(), agent.close()]);
    await agent.close();
    const last = tb.publishes.filter((p) => p.topic === 'outpost/v1/d/dev-close/status').at(-1);
    assert.ok(last);
    assert.equal(last.retain, true);
    assert.equal(last.clientId, 'dev-close', 'published by the agent itself, not a will');
    const status = JSON.parse(last.payload.toString()) as Status;
    assert.deepEqual([status.state, status.conn], ['offline', online.conn]);
    assert.equal(agent.status().link.connected, false);
    assert.throws(
      () => agent.enqueue({ type: 'late', body: 1 }),
      (err: unknown) => err instanceof OutpostError && err.code === 'AGENT_CLOSED',
    );
    await assert.rejects(fetch(`${agent.api.url}/v1/status`));
  });

  it('closes promptly while the hub is unreachable', async () => {
    const down = new FaultProxy();
    const downUrl = await down.listen();
    try {
      const agent = await start('dev-unreachable', downUrl);
      await waitFor(() => agent.status().link.lastError !== null, 'a failed attempt');
      await agent.close();
      assert.equal(agent.status().link.connects, 0);
    } finally {
      await down.close();
    }
  });

  it('refuses a bad config with every problem', async () => {
    await assert.rejects(
      createAgent({ deviceId: 'bad/id', deviceSecret: 'short' } as never, { logger: testLogger() }),
      (err: unknown) =>
        err instanceof OutpostError &&
        err.code === 'AGENT_CONFIG_INVALID' &&
        /deviceId/.test(err.message) &&
        /deviceSecret/.test(err.message),
    );
  });
});
