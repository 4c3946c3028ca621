import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { type Agent, type AgentConfigInput, createAgent } from '../../agent/index.js';
import type { Hub } from '../../hub/index.js';
import { agentTestConfig, FaultProxy, tempDir, testLogger, waitFor } from '../helpers/agent.js';
import { Cleanups } from '../helpers/fixtures.js';
import { api, type Credentials, enroll, startHub } from '../helpers/hub.js';

// The agent against the real hub (buildHub): end-to-end delivery, restarts, desired state,
// commands and the last will. A FaultProxy between them plays the network.

interface HubEvent {
  epoch: string;
  lane: string;
  seq: number;
  type: string;
  body: unknown;
}

async function hubEvents(hub: Hub, id: string, lane: string): Promise<HubEvent[]> {
  const res = await api(hub, 'GET', `/v1/devices/${id}/events?lane=${lane}&limit=10000`);
  assert.equal(res.status, 200);
  return res.body.events as HubEvent[];
}

// biome-ignore lint/suspicious/noExplicitAny: tests read arbitrary JSON
async function hubDevice(hub: Hub, id: string): Promise<any> {
  const res = await api(hub, 'GET', '/v1/devices');
  assert.equal(res.status, 200);
  // biome-ignore lint/suspicious/noExplicitAny: tests read arbitrary JSON
  return res.body.devices.find((d: any) => d.id === id);
}

describe('agent against the hub', () => {
  const cleanups = new Cleanups();
  after(async () => {
    await cleanups.run();
  });

  function dir(): string {
    const d = tempDir();
    cleanups.push(() => d.remove());
    return d.path;
  }
  async function hubOn(dataDir: string): Promise<Hub> {
    const hub = await startHub(dataDir);
    cleanups.push(() => hub.close());
    return hub;
  }
  async function proxy(): Promise<{ proxy: FaultProxy; url: string }> {
    const p = new FaultProxy();
    const url = await p.listen();
    cleanups.push(() => p.close());
    return { proxy: p, url };
  }
  async function agentFor(
    creds: Credentials,
    mqttUrl: string,
    dataDir: string,
    extra: Partial<AgentConfigInput> = {},
  ) {
    const agent = await createAgent(
      agentTestConfig({
        deviceId: creds.id,
        deviceSecret: creds.secret,
        dataDir,
        hub: { mqttUrl },
        ...extra,
      }),
      { logger: testLogger() },
    );
    cleanups.push(() => agent.close());
    return agent;
  }
  const post = async (agent: Agent, body: unknown) => {
    const res = await fetch(`${agent.api.url}/v1/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    return { status: res.status, body: await res.json() };
  };

  it('delivers events enqueued while the hub is down once it is up: each once, in order', async () => {
    const hubDir = dir();
    let hub = await hubOn(hubDir);
    const creds = await enroll(hub, { id: 'dev-hub-down' });
    await hub.close();
    const { proxy: p, url } = await proxy();
    const agent = await agentFor(creds, url, dir());
    for (let i = 1; i <= 30; i++) {
      if (i % 2 === 0)
        assert.deepEqual(agent.enqueue({ type: 'reading', body: { i } }), { lane: 'telemetry', seq: i });
      else
        assert.deepEqual(await post(agent, { type: 'reading', body: { i } }), {
          status: 202,
          body: { lane: 'telemetry', seq: i },
        });
    }
    assert.equal(agent.status().link.connected, false);
    assert.equal(agent.status().outbox.telemetry.pending, 30);

    hub = await hubOn(hubDir);
    p.setTarget(hub.mqtt.url);
    await waitFor(() => agent.status().outbox.telemetry.pending === 0, 'outbox drained');
    const events = await hubEvents(hub, creds.id, 'telemetry');
    assert.deepEqual(
      events.map((e) => [e.epoch, e.seq, e.type, e.body]),
      Array.from({ length: 30 }, (_, k) => [agent.epoch, k + 1, 'reading', { i: k + 1 }]),
    );
    assert.deepEqual(agent.status().outbox.telemetry, {
      pending: 0,
      enqueued: 30,
      acked: 30,
      dropped: 0,
      unconfirmed: 0,
      pendingBytes: 0,
    });
  });

  it('resends after an agent restart what the hub had not acknowledged', async () => {
    const hub = await hubOn(dir());
    const creds = await enroll(hub, { id: 'dev-restart' });
    const dataDir = dir();
    const { proxy: p, url } = await proxy();
    p.setTarget(hub.mqtt.url);
    const first = await agentFor(creds, url, dataDir);
    first.enqueue({ type: 'early', body: 0, lane: 'results' });
    await waitFor(() => first.status().outbox.results.acked === 1, 'first event acked');
    p.refuse(true);
    p.cut();
    await waitFor(() => !first.status().link.connected, 'link down');
    for (let i = 1; i <= 5; i++) first.enqueue({ type: 'later', body: i, lane: 'results' });
    const epoch = first.epoch;
    await first.close();

    const second = await agentFor(creds, hub.mqtt.url, dataDir);
    assert.equal(second.epoch, epoch, 'same store, same epoch');
    assert.equal(second.status().outbox.results.pending, 5);
    assert.deepEqual(second.enqueue({ type: 'after', body: 6, lane: 'results' }), {
      lane: 'results',
      seq: 7,
    });
    await waitFor(() => second.status().outbox.results.pending === 0, 'resent and acked');
    const events = await hubEvents(hub, creds.id, 'results');
    assert.deepEqual(
      events.map((e) => [e.epoch, e.seq, e.type]),
      [[epoch, 1, 'early'], ...[1, 2, 3, 4, 5].map((i) => [epoch, i + 1, 'later']), [epoch, 7, 'after']],
    );
  });

  it('applies the desired state, reports it to the hub, and keeps it across a restart', async () => {
    const hub = await hubOn(dir());
    const creds = await enroll(hub, { id: 'dev-desired' });
    const dataDir = dir();
    const agent = await agentFor(creds, hub.mqtt.url, dataDir);
    await waitFor(() => agent.status().link.connected, 'connected');
    const config = { logLevel: 'fatal', reportIntervalS: 3600, labels: { site: 'lab' } };
    const put = await api(hub, 'PUT', `/v1/devices/${creds.id}/desired`, { config });
    assert.equal(put.status, 200);
    const rev: number = put.body.rev;
    const reported = await waitFor(async () => {
      const d = await hubDevice(hub, creds.id);
      return d?.reported?.appliedRev === rev ? d.reported : undefined;
    }, 'appliedRev reported to the hub');
    assert.deepEqual(reported.config, config);
    assert.equal(reported.desired.status, 'applied');
    assert.equal(reported.epoch, agent.epoch);
    assert.deepEqual(agent.status().desired.appliedRev, rev);
    await agent.close();

    // Restart with the hub unreachable: the applied state comes from the store alone.
    const { url } = await proxy();
    const again = await agentFor(creds, url, dataDir);
    assert.equal(again.status().link.connected, false);
    assert.equal(again.status().desired.appliedRev, rev);
    assert.equal(again.status().desired.outcome?.status, 'applied');
  });

  it('answers hub commands through the outbox', async () => {
    const hub = await hubOn(dir());
    const creds = await enroll(hub, { id: 'dev-cmd' });
    const agent = await agentFor(creds, hub.mqtt.url, dir());
    await waitFor(() => agent.status().link.connected, 'connected');
    const sent = await api(hub, 'POST', `/v1/devices/${creds.id}/commands`, { name: 'ping' });
    assert.equal(sent.status, 202);
    const results = await waitFor(async () => {
      const list = await hubEvents(hub, creds.id, 'control');
      return list.length > 0 ? list : undefined;
    }, 'command result at the hub');
    assert.deepEqual(
      results.map((e) => [e.type, e.body]),
      [['cmd.result', { id: sent.body.id, name: 'ping', ok: true, result: { pong: true } }]],
    );
  });

  it('shows offline at the hub when its connection dies (last will) and online again after', async () => {
    const hub = await hubOn(dir());
    const creds = await enroll(hub, { id: 'dev-will' });
    const { proxy: p, url } = await proxy();
    p.setTarget(hub.mqtt.url);
    const agent = await agentFor(creds, url, dir());
    await waitFor(() => agent.status().link.connected, 'connected');
    await waitFor(async () => (await hubDevice(hub, creds.id))?.online === true, 'online at the hub');
    const connects = agent.status().link.connects;

    p.refuse(true);
    p.cut();
    await waitFor(async () => (await hubDevice(hub, creds.id))?.online === false, 'offline by the will');
    assert.equal(agent.status().link.connected, false);

    p.refuse(false);
    await waitFor(() => agent.status().link.connects === connects + 1, 'reconnected');
    await waitFor(async () => (await hubDevice(hub, creds.id))?.online === true, 'online again');
    await agent.close();
    await waitFor(async () => (await hubDevice(hub, creds.id))?.online === false, 'offline after close');
  });
});
