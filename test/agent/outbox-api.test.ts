import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type Agent, createAgent } from '../../agent/index.js';
import { agentTestConfig, FaultProxy, tempDir, testLogger } from '../helpers/agent.js';

// The outbox through the local API: a full back-pressure lane answers 503 AGENT_OUTBOX_FULL
// naming the lane and the limit; a full drop-oldest lane keeps accepting and books drops.

describe('local API and lane quotas', () => {
  const dir = tempDir();
  const proxy = new FaultProxy(); // no target: offline, so nothing drains
  let agent: Agent;
  const post = (body: unknown) =>
    fetch(`${agent.api.url}/v1/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });

  before(async () => {
    const url = await proxy.listen();
    agent = await createAgent(
      agentTestConfig({
        deviceId: 'dev-quota-api',
        deviceSecret: 'a-device-secret-of-some-length',
        dataDir: dir.path,
        hub: { mqttUrl: url },
        outbox: {
          lanes: {
            results: { maxRows: 2, policy: 'back-pressure' },
            telemetry: { maxRows: 2, policy: 'drop-oldest' },
          },
        },
      }),
      { logger: testLogger() },
    );
  });
  after(async () => {
    await agent?.close();
    await proxy.close();
    dir.remove();
  });

  it('answers 503 AGENT_OUTBOX_FULL with the lane and the limit when back-pressure applies', async () => {
    for (let i = 1; i <= 2; i++) {
      const res = await post({ type: 'result', body: { i }, lane: 'results' });
      assert.equal(res.status, 202);
      assert.deepEqual(await res.json(), { lane: 'results', seq: i });
    }
    const full = await post({ type: 'result', body: { i: 3 }, lane: 'results' });
    assert.equal(full.status, 503);
    const body = (await full.json()) as { error: { code: string; message: string; details: unknown } };
    assert.equal(body.error.code, 'AGENT_OUTBOX_FULL');
    assert.match(body.error.message, /outbox lane results is full: maxRows 2/);
    const details = body.error.details as Record<string, unknown>;
    assert.deepEqual([details.lane, details.limit, details.max, details.rows], ['results', 'maxRows', 2, 2]);
    assert.equal(agent.status().outbox.results.enqueued, 2, 'the refused event was not stored');
  });

  it('keeps accepting on a drop-oldest lane and shows the drops in the status', async () => {
    for (let i = 1; i <= 5; i++) assert.equal((await post({ type: 'reading', body: { i } })).status, 202);
    const status = (await (await fetch(`${agent.api.url}/v1/status`)).json()) as ReturnType<Agent['status']>;
    assert.deepEqual([status.outbox.telemetry.pending, status.outbox.telemetry.dropped], [2, 3]);
    assert.equal(status.ledger.telemetry.quota.count, 3);
    assert.ok(status.ledger.telemetry.quota.bytes > 0);
  });
});
