import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { type Agent, type AgentConfigInput, createAgent } from '../../agent/index.js';
import type { Hub } from '../../hub/index.js';
import { LANES, type Lane } from '../../shared/index.js';
import { agentTestConfig, FaultProxy, tempDir, testLogger, waitFor } from '../helpers/agent.js';
import { auditDelivery } from '../helpers/delivery-audit.js';
import { Cleanups } from '../helpers/fixtures.js';
import { api, type Credentials, enroll, startHub } from '../helpers/hub.js';

// The drain against the real hub: a window of batches in flight, per-lane order and
// exactly-once across reconnects, live lanes served during a backlog, and drops that never
// block a lane — the hub and the agent's ledger agreeing to the seq.

describe('outbox drain against the hub', () => {
  const cleanups = new Cleanups();
  after(async () => {
    await cleanups.run();
  });
  function dir(): string {
    const d = tempDir();
    cleanups.push(() => d.remove());
    return d.path;
  }
  async function hub(): Promise<Hub> {
    const h = await startHub(dir());
    cleanups.push(() => h.close());
    return h;
  }
  async function proxyTo(h: Hub): Promise<{ proxy: FaultProxy; url: string }> {
    const p = new FaultProxy();
    const url = await p.listen();
    p.setTarget(h.mqtt.url);
    cleanups.push(() => p.close());
    return { proxy: p, url };
  }
  async function agentFor(
    creds: Credentials,
    mqttUrl: string,
    dataDir: string,
    extra: Partial<AgentConfigInput>,
  ) {
    const events: Array<{ lane: Lane; hwm: number; pending: Record<Lane, number> }> = [];
    let agent: Agent | undefined;
    agent = await createAgent(
      agentTestConfig({
        deviceId: creds.id,
        deviceSecret: creds.secret,
        dataDir,
        hub: { mqttUrl },
        ...extra,
      }),
      {
        logger: testLogger(),
        onAck: (ack) => {
          const outbox = agent?.status().outbox;
          if (!outbox) return;
          const pending = Object.fromEntries(LANES.map((l) => [l, outbox[l].pending])) as Record<
            Lane,
            number
          >;
          events.push({ lane: ack.lane, hwm: ack.hwm, pending });
        },
      },
    );
    cleanups.push(() => agent?.close());
    return { agent, acks: events };
  }
  const drained = (agent: Agent) =>
    LANES.every((l) => agent.status().outbox[l].pending === 0 && agent.status().outbox[l].unconfirmed === 0);

  it('keeps per-lane order and delivers exactly once through repeated cuts', async () => {
    const h = await hub();
    const creds = await enroll(h);
    const { proxy, url } = await proxyTo(h);
    const dataDir = dir();
    const { agent } = await agentFor(creds, url, dataDir, {
      outbox: { batchMaxEvents: 40, window: 4, ackTimeoutMs: 2000 },
    });
    await waitFor(() => agent.status().link.connected, 'connected');
    const counts: Record<Lane, number> = { control: 150, results: 400, telemetry: 1500, learning: 100 };
    for (const lane of LANES)
      for (let i = 0; i < counts[lane]; i++) agent.enqueue({ type: 'e.x', body: { lane, i }, lane });
    // Cut the link four times while the backlog drains.
    for (let cut = 0; cut < 4; cut++) {
      const atHub = await h.store.countEvents(creds.id);
      await waitFor(async () => (await h.store.countEvents(creds.id)) > atHub || drained(agent), 'progress');
      proxy.cut();
      await waitFor(() => agent.status().link.connected, 'reconnected');
    }
    await waitFor(() => drained(agent), 'drained', 60_000);
    assert.ok(agent.status().link.connects >= 2, 'it did reconnect');
    const audit = await auditDelivery(dataDir, h.store, creds.id, { quiescent: true });
    assert.deepEqual(audit.problems, []);
    for (const lane of LANES) {
      assert.equal(audit.lanes[lane].atHub, counts[lane], lane);
      const bodies = (await h.store.listEvents(creds.id, { lane, limit: 5000 })).map(
        (e) => (e.body as { i: number }).i,
      );
      assert.deepEqual(bodies, [...Array(counts[lane]).keys()], `${lane}: every event once, in order`);
    }
  });

  it('serves control and learning while a telemetry backlog drains', async () => {
    const h = await hub();
    const creds = await enroll(h);
    const { proxy, url } = await proxyTo(h);
    proxy.refuse(true); // offline while the backlog builds
    const { agent, acks } = await agentFor(creds, url, dir(), { outbox: { batchMaxEvents: 200, window: 4 } });
    for (let i = 0; i < 12_000; i++) agent.enqueue({ type: 't', body: i });
    for (let i = 0; i < 5; i++) agent.enqueue({ type: 'l', body: i, lane: 'learning' });
    proxy.refuse(false);
    await waitFor(() => acks.some((a) => a.lane === 'telemetry'), 'the backlog started draining', 30_000);
    agent.enqueue({ type: 'c', body: 'live', lane: 'control' });
    await waitFor(() => drained(agent), 'drained', 60_000);
    const control = acks.find((a) => a.lane === 'control');
    const learning = acks.find((a) => a.lane === 'learning');
    assert.ok(
      control && control.pending.telemetry > 0,
      'the live control event was acked before the backlog ended',
    );
    assert.ok(learning && learning.pending.telemetry > 0, 'the lowest lane was not starved by the backlog');
  });

  it('drops never block a lane: the hub skips them and agrees with the ledger', async () => {
    const h = await hub();
    const creds = await enroll(h);
    const { proxy, url } = await proxyTo(h);
    const dataDir = dir();
    const { agent } = await agentFor(creds, url, dataDir, {
      outbox: { lanes: { telemetry: { maxRows: 100, policy: 'drop-oldest' } } },
    });
    for (let i = 1; i <= 50; i++) agent.enqueue({ type: 't', body: i });
    await waitFor(() => agent.status().outbox.telemetry.acked === 50, 'first 50 delivered');
    proxy.refuse(true);
    proxy.cut();
    await waitFor(() => !agent.status().link.connected, 'offline');
    for (let i = 51; i <= 400; i++) agent.enqueue({ type: 't', body: i });
    assert.equal(agent.status().outbox.telemetry.dropped, 250, 'seqs 51-300 dropped, never published');
    proxy.refuse(false);
    await waitFor(() => drained(agent), 'drained after the outage');
    const audit = await auditDelivery(dataDir, h.store, creds.id, { quiescent: true });
    assert.deepEqual(audit.problems, []);
    assert.deepEqual(audit.lanes.telemetry, {
      enqueued: 400,
      atHub: 150,
      lost: 250,
      unconfirmed: 0,
      pending: 0,
      skippedAtHub: 250,
    });
    assert.deepEqual(
      (await h.store.listSkips(creds.id)).map((s) => [s.lane, s.from, s.to]),
      [['telemetry', 51, 300]],
    );
    // The ledger reaches the hub's device view through the reported state.
    const view = await waitFor(async () => {
      const ledger = (await api(h, 'GET', `/v1/devices/${creds.id}`)).body.ledger;
      return ledger.lanes.telemetry.quota.count === 250 ? ledger : undefined;
    }, 'ledger reported');
    assert.equal(view.epoch, agent.epoch);
    assert.equal(view.lanes.telemetry.skippedAtHub, 250);
    assert.equal(view.lanes.telemetry.quota.bytes, agent.status().ledger.telemetry.quota.bytes);
  });

  it('a lane emptied by its TTL tells the hub with a batch that carries no event', async () => {
    const h = await hub();
    const creds = await enroll(h);
    const { proxy, url } = await proxyTo(h);
    const dataDir = dir();
    let mono = 0;
    proxy.refuse(true);
    const agent = await createAgent(
      agentTestConfig({
        deviceId: creds.id,
        deviceSecret: creds.secret,
        dataDir,
        hub: { mqttUrl: url },
        outbox: { expirySweepMs: 20, lanes: { learning: { ttlS: 5 } } },
      }),
      { logger: testLogger(), clock: { monoNow: () => mono } },
    );
    cleanups.push(() => agent.close());
    for (let i = 0; i < 7; i++) agent.enqueue({ type: 'update', body: i, lane: 'learning' });
    mono += 6000;
    await waitFor(() => agent.status().ledger.learning.ttl.count === 7, 'expired offline');
    proxy.refuse(false);
    await waitFor(async () => (await h.store.skipTotals(creds.id)).length > 0, 'the hub heard of the drop');
    assert.deepEqual(await h.store.skipTotals(creds.id), [
      { epoch: agent.epoch, lane: 'learning', count: 7 },
    ]);
    await waitFor(() => agent.status().link.connected && drained(agent), 'nothing left to say');
    const audit = await auditDelivery(dataDir, h.store, creds.id, { quiescent: true });
    assert.deepEqual(audit.problems, []);
    agent.enqueue({ type: 'update', body: 'fresh', lane: 'learning' });
    await waitFor(() => agent.status().outbox.learning.acked === 1, 'the lane is not blocked');
    assert.deepEqual(
      (await h.store.listEvents(creds.id, { lane: 'learning', limit: 10 })).map((e) => e.seq),
      [8],
    );
  });

  async function behindFaultProxy(lanes: AgentConfigInput['outbox']) {
    const h = await hub();
    const creds = await enroll(h);
    const proxy = await FaultProxy.start(h.mqtt.url);
    cleanups.push(() => proxy.close());
    const dataDir = dir();
    const { agent } = await agentFor(creds, proxy.url, dataDir, {
      link: {
        pingIntervalMs: 100,
        pingTimeoutMs: 300,
        reconnectMinMs: 20,
        reconnectMaxMs: 200,
        connectTimeoutMs: 500,
      },
      outbox: { batchMaxEvents: 5, ackTimeoutMs: 60_000, ...lanes },
    });
    await waitFor(() => agent.status().link.connected, 'connected');
    return { h, creds, proxy, dataDir, agent };
  }
  const quota10 = { lanes: { telemetry: { maxRows: 10, policy: 'drop-oldest' as const } } };

  it('a dropped event the hub had stored (its ack lost) is not booked lost', async () => {
    const { h, creds, proxy, dataDir, agent } = await behindFaultProxy(quota10);
    proxy.blackhole('down'); // batches reach the hub and are stored; no ack comes back
    for (let i = 1; i <= 10; i++) agent.enqueue({ type: 't', body: i });
    await waitFor(async () => (await h.store.countEvents(creds.id)) === 10, 'the hub stored 1-10');
    for (let i = 11; i <= 15; i++) agent.enqueue({ type: 't', body: i }); // drops 1-5, all published
    const t = agent.status().outbox.telemetry;
    assert.deepEqual([t.unconfirmed, t.dropped], [5, 0], 'published drops wait for the hub');
    await waitFor(() => agent.status().link.deadLinks >= 1, 'dead link detected (no pongs)');
    proxy.heal();
    await waitFor(() => drained(agent), 'drained');
    const audit = await auditDelivery(dataDir, h.store, creds.id, { quiescent: true });
    assert.deepEqual(audit.problems, []);
    assert.deepEqual([audit.lanes.telemetry.atHub, audit.lanes.telemetry.lost], [15, 0]);
    assert.deepEqual(
      [agent.status().outbox.telemetry.acked, agent.status().ledger.telemetry.quota.count],
      [15, 0],
    );
  });

  it('a dropped event published into a dead link is booked lost once the hub confirms', async () => {
    const { h, creds, proxy, dataDir, agent } = await behindFaultProxy(quota10);
    proxy.blackhole('up'); // batches vanish on the way
    for (let i = 1; i <= 10; i++) agent.enqueue({ type: 't', body: i });
    await waitFor(() => agent.status().link.deadLinks >= 1, 'dead link detected');
    for (let i = 11; i <= 15; i++) agent.enqueue({ type: 't', body: i }); // drops 1-5
    assert.equal(agent.status().outbox.telemetry.unconfirmed, 5, 'maybe at the hub: wait for its word');
    proxy.heal();
    await waitFor(() => drained(agent), 'drained');
    const audit = await auditDelivery(dataDir, h.store, creds.id, { quiescent: true });
    assert.deepEqual(audit.problems, []);
    assert.deepEqual(audit.lanes.telemetry, {
      enqueued: 15,
      atHub: 10,
      lost: 5,
      unconfirmed: 0,
      pending: 0,
      skippedAtHub: 5,
    });
    assert.equal(agent.status().ledger.telemetry.quota.count, 5);
  });
});
