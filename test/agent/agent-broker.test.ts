import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type AgentConfigInput, createAgent } from '../../agent/index.js';
import type { CommandResult, EventEnvelope, ReportedState, Status } from '../../shared/index.js';
import { agentTestConfig, TEST_LINK, TestBroker, tempDir, testLogger, waitFor } from '../helpers/agent.js';
import { Cleanups } from '../helpers/fixtures.js';

// The agent against a bare aedes broker and an in-test ack responder (TestBroker): the
// parts of the contract that do not need the hub. test/agent/agent-hub.test.ts covers the hub.

const SECRET = 'a-device-secret-of-some-length';
const topic = (id: string, channel: string) => `outpost/v1/d/${id}/${channel}`;
const counts = ({ pending, enqueued, acked }: { pending: number; enqueued: number; acked: number }) => ({
  pending,
  enqueued,
  acked,
});

describe('agent against a bare broker', () => {
  let tb: TestBroker;
  const cleanups = new Cleanups();
  before(async () => {
    tb = await TestBroker.start();
  });
  after(async () => {
    await cleanups.run();
    await tb.close();
  });

  async function start(deviceId: string, extra: Partial<AgentConfigInput> = {}, dataDir?: string) {
    const dir = dataDir ?? tempDir().path;
    const agent = await createAgent(
      agentTestConfig({ deviceId, deviceSecret: SECRET, dataDir: dir, hub: { mqttUrl: tb.url }, ...extra }),
      { logger: testLogger() },
    );
    cleanups.push(() => agent.close());
    return { agent, dir };
  }

  it('connects as MQTT 3.1.1 with a persistent session, credentials and an offline will', async () => {
    const { agent } = await start('dev-connect');
    await waitFor(() => agent.status().link.connected, 'connected');
    const seen = tb.connects.find((c) => c.clientId === 'dev-connect');
    assert.ok(seen);
    assert.equal(seen.protocolVersion, 4);
    assert.equal(seen.clean, false);
    assert.equal(seen.username, 'dev-connect');
    assert.equal(seen.password, SECRET);
    assert.equal(seen.keepalive, 5);
    assert.ok(seen.will);
    assert.equal(seen.will.topic, topic('dev-connect', 'status'));
    assert.equal(seen.will.qos, 1);
    assert.equal(seen.will.retain, true);
    const will = JSON.parse(seen.will.payload) as Status;
    assert.equal(will.state, 'offline');

    const online = await waitFor(
      () => tb.messages<Status>(topic('dev-connect', 'status')).find((s) => s.state === 'online'),
      'online status',
    );
    assert.equal(online.conn, will.conn, 'the online status and the will name the same connection');
    const state = await waitFor(() => tb.messages<ReportedState>(topic('dev-connect', 'state'))[0], 'state');
    assert.equal(state.epoch, agent.epoch);
    assert.equal(state.appliedRev, 0);
    assert.equal(state.agentVersion, '0.1.0');
    assert.deepEqual(Object.keys(state.outbox), ['control', 'results', 'telemetry', 'learning']);
    assert.equal(agent.status().link.connects, 1);
  });

  it('link.qos 0 (what a hub on NATS gives): batches and subscriptions at QoS 0, every event acked once', async () => {
    const { agent } = await start('dev-qos0', {
      link: { ...TEST_LINK, qos: 0 },
    });
    await waitFor(() => agent.status().link.connected, 'connected');
    for (let i = 1; i <= 5; i++) agent.enqueue({ type: 'reading', body: { i } });
    await waitFor(() => agent.status().outbox.telemetry.pending === 0, 'all five acked');
    // Nothing for the broker to keep at QoS 0: a clean session.
    assert.equal(tb.connects.find((c) => c.clientId === 'dev-qos0')?.clean, true);
    const subscribed = tb.subscriptions.filter((s) => s.clientId === 'dev-qos0');
    assert.deepEqual(
      subscribed.map((s) => [s.topic.split('/').at(-1), s.qos]),
      [
        ['ack', 0],
        ['desired', 0],
        ['cmd', 0],
      ],
    );
    const mine = tb.publishes.filter((p) => p.clientId === 'dev-qos0');
    const up = mine.filter((p) => p.topic === topic('dev-qos0', 'up'));
    assert.ok(up.length > 0);
    assert.ok(up.every((p) => p.qos === 0));
    // Retained messages (status, reported state) stay at QoS 1.
    assert.ok(mine.filter((p) => p.retain).every((p) => p.qos === 1));
    const stored = tb.events(agent.epoch, 'telemetry').map((e) => e.seq);
    assert.deepEqual(stored, [1, 2, 3, 4, 5]);
    // The default is QoS 1 for both.
    assert.ok(tb.subscriptions.filter((s) => s.clientId === 'dev-connect').every((s) => s.qos === 1));
  });

  it('deletes an event only on the hub ack, never on the PUBACK, and resends until acked', async () => {
    tb.acking = false;
    try {
      const { agent } = await start('dev-noack', { outbox: { ackTimeoutMs: 150 } });
      await waitFor(() => agent.status().link.connected, 'connected');
      for (let i = 1; i <= 3; i++) agent.enqueue({ type: 'reading', body: { i } });
      const sent = () => tb.batches.filter((b) => b.epoch === agent.epoch);
      await waitFor(() => sent().length >= 3, 'the batch sent and resent');
      assert.deepEqual(
        sent().map((b) => b.events.map((e) => e.seq)),
        sent().map(() => [1, 2, 3]),
        'each resend starts from the oldest unacknowledged event',
      );
      assert.deepEqual(counts(agent.status().outbox.telemetry), { pending: 3, enqueued: 3, acked: 0 });
      tb.acking = true;
      await waitFor(() => agent.status().outbox.telemetry.pending === 0, 'acked');
      assert.deepEqual(counts(agent.status().outbox.telemetry), { pending: 0, enqueued: 3, acked: 3 });
      assert.deepEqual(
        tb.events(agent.epoch, 'telemetry').map((e) => e.body),
        [{ i: 1 }, { i: 2 }, { i: 3 }],
      );
    } finally {
      tb.acking = true;
    }
  });

  it('drains lanes in priority order, in bounded batches, each event once', async () => {
    const { agent } = await start('dev-lanes', { outbox: { batchMaxEvents: 4 } });
    agent.enqueue({ type: 'learn', body: 1, lane: 'learning' });
    for (let i = 0; i < 10; i++) agent.enqueue({ type: 'tele', body: i });
    const ctl = agent.enqueue({ type: 'ctl', body: 'x', lane: 'control' });
    assert.deepEqual(ctl, { lane: 'control', seq: 1 });
    await waitFor(
      () => agent.status().outbox.learning.pending === 0 && agent.status().outbox.telemetry.pending === 0,
      'drained',
    );
    const mine = tb.batches.filter((b) => b.epoch === agent.epoch);
    assert.ok(mine.every((b) => b.events.length <= 4));
    const lanesInOrder = [...new Set(mine.map((b) => b.lane))];
    assert.deepEqual(lanesInOrder, ['control', 'telemetry', 'learning']);
    assert.deepEqual(
      tb.events(agent.epoch, 'telemetry').map((e: EventEnvelope) => e.seq),
      [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
    );
    assert.deepEqual(tb.invalidBatches, []);
  });

  it('counts and drops invalid inbound payloads, and still answers commands', async () => {
    const { agent } = await start('dev-invalid');
    await waitFor(() => agent.status().link.connected, 'connected');
    await tb.publish(topic('dev-invalid', 'cmd'), 'not json');
    await tb.publish(topic('dev-invalid', 'cmd'), JSON.stringify({ v: 1, id: 'c1', name: 'reboot', at: 1 }));
    await tb.publish(topic('dev-invalid', 'ack'), JSON.stringify({ v: 1, epoch: agent.epoch, lane: 'nope' }));
    await tb.publish(topic('dev-invalid', 'cmd'), 'not json either');
    await waitFor(() => agent.status().inbound.invalid.total === 4, 'four invalid payloads counted');
    const byReason = agent.status().inbound.invalid.byReason;
    assert.equal(Object.keys(byReason).length, 4);
    assert.ok(Object.keys(byReason).some((r) => r.startsWith('cmd: ') && r.includes('name')));
    assert.ok(Object.keys(byReason).some((r) => r.startsWith('ack: ') && r.includes('lane')));

    await tb.publish(topic('dev-invalid', 'cmd'), JSON.stringify({ v: 1, id: 'p1', name: 'ping', at: 1 }));
    await tb.publish(topic('dev-invalid', 'cmd'), JSON.stringify({ v: 1, id: 'p1', name: 'ping', at: 1 }));
    await tb.publish(
      topic('dev-invalid', 'cmd'),
      JSON.stringify({ v: 1, id: 'r1', name: 'report-state', at: 1 }),
    );
    const results = await waitFor(() => {
      const list = tb.events(agent.epoch, 'control');
      return list.some((e) => (e.body as CommandResult).id === 'r1') ? list : undefined;
    }, 'the result of the last command');
    const refused = results[0]?.body as CommandResult | undefined;
    assert.deepEqual(
      results.map((e) => [e.type, e.body]),
      [
        ['cmd.result', { id: 'c1', name: 'reboot', ok: false, error: refused?.error }],
        ['cmd.result', { id: 'p1', name: 'ping', ok: true, result: { pong: true } } satisfies CommandResult],
        ['cmd.result', { id: 'r1', name: 'report-state', ok: true, result: { published: true } }],
      ],
      'a redelivered command id is carried out once; an unknown one is answered refused',
    );
    assert.match(refused?.error ?? '', /^name: /);
    assert.equal(agent.status().inbound.invalid.total, 4);
  });
});
