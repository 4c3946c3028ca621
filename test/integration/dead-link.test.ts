import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { createAgent } from '../../agent/index.js';
import { FaultProxy } from '../faults/fault-proxy.js';
import { agentTestConfig, tempDir, testLogger, waitFor } from '../helpers/agent.js';
import { auditDelivery } from '../helpers/delivery-audit.js';
import { Cleanups } from '../helpers/fixtures.js';
import { enroll, startHub } from '../helpers/hub.js';

// Dead links: a silent partition (packets dropped, no FIN, no RST) is detected by
// the application-level ping — not by TCP, not by a keepalive set far longer — and the agent
// reconnects and resumes the drain exactly where the hub's acks left it.

describe('dead link through a blackholing proxy', () => {
  const cleanups = new Cleanups();
  after(async () => {
    await cleanups.run();
  });

  it('detects the silent partition, reconnects once it heals, and delivers everything once', async () => {
    const hubDir = tempDir();
    const agentDir = tempDir();
    cleanups.push(
      () => hubDir.remove(),
      () => agentDir.remove(),
    );
    const hub = await startHub(hubDir.path);
    cleanups.push(() => hub.close());
    const creds = await enroll(hub);
    const proxy = await FaultProxy.start(hub.mqtt.url);
    cleanups.push(() => proxy.close());
    const agent = await createAgent(
      agentTestConfig({
        deviceId: creds.id,
        deviceSecret: creds.secret,
        dataDir: agentDir.path,
        hub: { mqttUrl: proxy.url },
        // Keepalive 60 s would take ~90 s to notice; the ping bounds detection to 0.6 s here.
        link: { keepaliveS: 60, pingIntervalMs: 200, pingTimeoutMs: 400, connectTimeoutMs: 1000 },
      }),
      { logger: testLogger() },
    );
    cleanups.push(() => agent.close());
    await waitFor(() => agent.status().link.pingRttMs !== null, 'a first pong');
    for (let i = 0; i < 20; i++) agent.enqueue({ type: 'before', body: i });
    await waitFor(() => agent.status().outbox.telemetry.acked === 20, 'delivered before the partition');

    proxy.blackhole('both');
    for (let i = 0; i < 30; i++) agent.enqueue({ type: 'during', body: i });
    await waitFor(() => !agent.status().link.connected, 'the partition detected', 30_000);
    assert.equal(agent.status().link.deadLinks, 1);
    assert.match(agent.status().link.lastError ?? '', /no pong from the hub within 400 ms/);
    assert.equal(agent.status().outbox.telemetry.pending, 30, 'queued, not lost, while partitioned');

    proxy.heal();
    await waitFor(() => agent.status().outbox.telemetry.pending === 0, 'resumed and drained', 30_000);
    assert.ok(agent.status().link.connects >= 2);
    const audit = await auditDelivery(agentDir.path, hub.store, creds.id, { quiescent: true });
    assert.deepEqual(audit.problems, []);
    assert.equal(audit.lanes.telemetry.atHub, 50);
  });
});
