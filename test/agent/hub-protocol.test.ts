import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { createAgent } from '../../agent/index.js';
import { HubProtocol } from '../../agent/link/hub-version.js';
import { InboundRouter } from '../../agent/link/inbound.js';
import { type DesiredState, deviceTopic, PROTOCOL } from '../../shared/index.js';
import { agentTestConfig, tempDir, testLogger, waitFor } from '../helpers/agent.js';
import { api, enroll, startHub } from '../helpers/hub.js';

const DEVICE = 'dev-protocol';
const topic = (channel: 'ack' | 'desired') => deviceTopic(DEVICE, channel);
const json = (value: unknown) => Buffer.from(JSON.stringify(value));

function routerWithProtocol() {
  const hub = new HubProtocol(testLogger());
  const seen = { desired: [] as DesiredState[], invalid: [] as string[], acks: 0 };
  const router = new InboundRouter(
    DEVICE,
    testLogger(),
    {
      ack: () => {
        seen.acks++;
      },
      pong: () => {},
      desired: (doc) => seen.desired.push(doc),
      desiredInvalid: (_payload, reason) => seen.invalid.push(reason),
      command: () => {},
    },
    hub,
  );
  return { hub, router, seen };
}

describe('agent: the hub’s protocol version', () => {
  const cleanups: Array<() => unknown> = [];
  after(async () => {
    for (const c of cleanups.reverse()) await c();
  });

  it('stamps pv only once the hub has named its own; a hub refusal is kept with its reason', () => {
    const { hub, router, seen } = routerWithProtocol();
    const ack = { v: 1, epoch: 'epochprotocol', lane: 'results', hwm: 1, stored: 1, duplicates: 0 };
    router.handle(topic('ack'), json(ack));
    assert.deepEqual(hub.stamp(), {}, 'a hub of the previous release never said a minor');
    router.handle(topic('ack'), json({ ...ack, pv: '1.2', shard: 3 }));
    assert.deepEqual(hub.stamp(), { pv: PROTOCOL });
    assert.equal(seen.acks, 2);
    router.handle(
      topic('ack'),
      json({ v: 1, pv: '1.1', refused: 'up', reason: 'protocol 1.9 is not served', at: 5 }),
    );
    const stats = hub.stats();
    assert.equal(stats.hub, '1.1');
    assert.deepEqual(stats.refusals, [{ channel: 'up', reason: 'protocol 1.9 is not served', at: 5 }]);
    assert.deepEqual(stats.tolerated, { total: 1, byItem: { 'field shard': 1 } });
    assert.equal(router.stats().total, 0);
  });

  it('applies a newer minor’s desired state without what it adds, and refuses a newer major with a reason', () => {
    const { hub, router, seen } = routerWithProtocol();
    router.handle(
      topic('desired'),
      json({ v: 1, pv: '1.2', rev: 2, at: 1, config: { logLevel: 'debug' }, gadgets: { version: '0.2.0' } }),
    );
    assert.deepEqual(
      seen.desired.map((d) => [d.rev, d.config.logLevel]),
      [[2, 'debug']],
    );
    assert.equal(hub.stats().tolerated.byItem['field gadgets'], 1);
    router.handle(topic('desired'), json({ v: 2, pv: '2.0', rev: 3, at: 1, spec: {} }));
    assert.equal(seen.desired.length, 1);
    assert.match(seen.invalid[0] ?? '', /^protocol 2\.0 is not served: this side speaks 1\.1/);
  });

  it('learns a current hub’s version from its first ack and is read without a rejection', async () => {
    const dir = tempDir('outpost-protocol-');
    cleanups.push(() => dir.remove());
    const hub = await startHub(dir.path);
    cleanups.push(() => hub.close());
    const creds = await enroll(hub);
    const agent = await createAgent(
      agentTestConfig({
        deviceId: creds.id,
        deviceSecret: creds.secret,
        dataDir: `${dir.path}/agent`,
        hub: { mqttUrl: hub.mqtt.url },
      }),
      { logger: testLogger() },
    );
    cleanups.push(() => agent.close());
    assert.equal(agent.status().inbound.protocol.speaks, PROTOCOL);
    for (let n = 0; n < 3; n++) agent.enqueue({ type: 'protocol.event', body: { n }, lane: 'results' });
    await waitFor(() => agent.status().outbox.results.acked === 3, 'three events acked');
    await waitFor(() => agent.status().inbound.protocol.hub === PROTOCOL, 'the hub’s version learned');
    // Later batches carry pv; the hub stores them like any other.
    for (let n = 3; n < 6; n++) agent.enqueue({ type: 'protocol.event', body: { n }, lane: 'results' });
    await waitFor(() => agent.status().outbox.results.acked === 6, 'six events acked');
    const stats = (await api(hub, 'GET', '/v1/stats')).body;
    assert.deepEqual(stats.rejected.byReason, {});
    assert.equal(stats.tolerated.total, 0);
    const reported = (await api(hub, 'GET', `/v1/devices/${creds.id}`)).body.reported;
    assert.equal(reported.pv, PROTOCOL);
  });
});
