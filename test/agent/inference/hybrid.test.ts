import assert from 'node:assert/strict';
import { createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type Agent, createAgent } from '../../../agent/index.js';
import type { Hub } from '../../../hub/index.js';
import { ENGINES, type TensorMap } from '../../../inference/index.js';
import { agentTestConfig, FaultProxy, tempDir, testLogger, waitFor } from '../../helpers/agent.js';
import { digitsFixture, oneDigit } from '../../helpers/digits.js';
import { api, enroll, startHub } from '../../helpers/hub.js';
import { writeModel } from '../../helpers/models.js';

// Hybrid routing against a real hub: local-first escalates a low-confidence digit to the
// hub's model, cloud-first and cloud are answered by the hub, and offline (link down and
// hub HTTP refused, or the hub silent past the deadline) the device answers locally and
// queues the input for cloud re-scoring; the queued inputs reach the hub once back online.

describe('hybrid routing', () => {
  const dir = tempDir();
  const mqttProxy = new FaultProxy();
  const httpProxy = new FaultProxy();
  // A "hub" that accepts connections and never answers: the deadline case.
  const silent = createServer((s: Socket) => s.on('error', () => undefined));
  let hub: Hub;
  let agent: Agent;
  let deviceId: string;
  let lowDigit: TensorMap;
  let highDigit: TensorMap;
  const fixture = digitsFixture();

  before(async () => {
    const file = writeModel(dir.path, 'digits.onnx', fixture.bytes);
    // The least and the most confident of 100 held-out digits under the local model.
    const model = await ENGINES['onnx:cpu'].load(
      { format: 'onnx', bytes: fixture.bytes },
      { intraOpThreads: 1, interOpThreads: 1, options: {}, log: testLogger() },
    );
    const scored: Array<{ confidence: number; input: TensorMap }> = [];
    for (let i = 0; i < 100; i++) {
      const input = oneDigit(fixture.test, i);
      const probs = (await model.run(input)).probs?.data as Float32Array;
      scored.push({ confidence: Math.max(...probs), input });
    }
    await model.close();
    scored.sort((a, b) => a.confidence - b.confidence);
    const [low, high] = [scored[0], scored[99]];
    assert.ok(low && high && low.confidence < high.confidence);
    lowDigit = low.input;
    highDigit = high.input;

    hub = await startHub(
      join(dir.path, 'hub'),
      { inference: { models: [{ name: 'digits-big', file, version: '9.0.0' }] } },
      { logger: testLogger() },
    );
    const creds = await enroll(hub);
    deviceId = creds.id;
    await mqttProxy.listen();
    mqttProxy.setTarget(hub.mqtt.url);
    await httpProxy.listen();
    httpProxy.setTarget(hub.http.url);
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const route = { cloudModel: 'digits-big', rescoreOffline: true, deadlineMs: 5000 };
    agent = await createAgent(
      agentTestConfig({
        deviceId: creds.id,
        deviceSecret: creds.secret,
        dataDir: join(dir.path, 'agent'),
        hub: { mqttUrl: `mqtt://127.0.0.1:${mqttProxy.port}` },
        inference: {
          profile: 'x86-64-cpu',
          threads: 1,
          hubHttpUrl: `http://127.0.0.1:${httpProxy.port}`,
          routes: {
            'digits-lf': {
              ...route,
              mode: 'local-first',
              confidenceThreshold: (low.confidence + high.confidence) / 2,
            },
            'digits-cf': { ...route, mode: 'cloud-first', deadlineMs: 500 },
            'digits-cloud': { mode: 'cloud', cloudModel: 'digits-big' },
          },
        },
      }),
      { logger: testLogger() },
    );
    for (const name of ['digits-local', 'digits-lf', 'digits-cf', 'digits-cloud']) {
      await agent.models.install({ file, name, version: '1.0.0' });
      agent.models.setPolicy(name, { cache: false });
    }
    await waitFor(() => agent.status().link.connected, 'agent online');
  });
  after(async () => {
    await agent.close();
    await hub.close();
    await mqttProxy.close();
    await httpProxy.close();
    silent.close();
    dir.remove();
  });

  it('local (no route configured) answers on the device', async () => {
    const r = await agent.models.infer('digits-local', lowDigit);
    assert.deepEqual(r.route, { mode: 'local', servedBy: 'local', escalated: false });
  });

  it('local-first keeps a confident answer and escalates a low-confidence one to the hub', async () => {
    const confident = await agent.models.infer('digits-lf', highDigit);
    assert.equal(confident.route?.servedBy, 'local');
    assert.equal(confident.route?.escalated, false);
    const unsure = await agent.models.infer('digits-lf', lowDigit);
    assert.equal(unsure.route?.servedBy, 'cloud');
    assert.equal(unsure.route?.escalated, true);
    assert.ok((unsure.route?.confidence ?? 1) < 0.99);
    assert.equal(unsure.version, '9.0.0', 'the hub model answered');
    assert.equal(unsure.engine, 'onnx:cpu');
    assert.equal(unsure.outputs.probs?.dims.join(), '1,10');
  });

  it('cloud-first and cloud are answered by the hub while online, also over the local HTTP API', async () => {
    const cf = await agent.models.infer('digits-cf', lowDigit);
    assert.equal(cf.route?.servedBy, 'cloud');
    assert.equal(cf.version, '9.0.0');
    const res = await fetch(`${agent.api.url}/v1/models/digits-cloud/infer`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ inputs: { x: { dtype: 'float32', dims: [1, 784], data: Array(784).fill(0) } } }),
    });
    // biome-ignore lint/suspicious/noExplicitAny: tests read arbitrary JSON
    const body = (await res.json()) as any;
    assert.equal(res.status, 200);
    assert.equal(body.route.servedBy, 'cloud');
  });

  it('cloud-first falls back to the local model when the hub is silent past the deadline', async () => {
    httpProxy.setTarget(`http://127.0.0.1:${(silent.address() as { port: number }).port}`);
    httpProxy.cut(); // kept-alive connections still lead to the real hub
    try {
      const r = await agent.models.infer('digits-cf', highDigit);
      assert.equal(r.route?.servedBy, 'local');
      assert.match(r.route?.fallback ?? '', /INFER_CLOUD_UNAVAILABLE: .*no answer within 500 ms/);
      assert.equal(r.route?.rescoreQueued, true);
      assert.equal(r.version, '1.0.0');
    } finally {
      httpProxy.setTarget(hub.http.url);
      httpProxy.cut();
    }
  });

  it('offline: answers locally, queues inputs for re-scoring, cloud-only fails clearly; the queue drains back online', async () => {
    mqttProxy.refuse(true);
    httpProxy.refuse(true);
    mqttProxy.cut();
    httpProxy.cut();
    await waitFor(() => !agent.status().link.connected, 'agent offline');
    const lf = await agent.models.infer('digits-lf', lowDigit);
    assert.equal(lf.route?.servedBy, 'local');
    assert.match(lf.route?.fallback ?? '', /unreachable/);
    assert.equal(lf.route?.rescoreQueued, true);
    const cf = await agent.models.infer('digits-cf', lowDigit);
    assert.equal(cf.route?.servedBy, 'local');
    assert.equal(cf.route?.rescoreQueued, true);
    await assert.rejects(agent.models.infer('digits-cloud', lowDigit), (err: { code?: string }) => {
      assert.equal(err.code, 'INFER_CLOUD_UNAVAILABLE');
      return true;
    });
    mqttProxy.refuse(false);
    httpProxy.refuse(false);
    // Three inputs were queued (deadline case + two offline); they reach the hub's store.
    const events = await waitFor(
      async () => {
        const res = await api(hub, 'GET', `/v1/devices/${deviceId}/events?lane=results`);
        // biome-ignore lint/suspicious/noExplicitAny: tests read arbitrary JSON
        const rescore = (res.body.events ?? []).filter((e: any) => e.type === 'inference.rescore');
        return rescore.length === 3 ? rescore : undefined;
      },
      'rescore events at the hub',
      30_000,
    );
    const first = events[0].body;
    assert.equal(first.cloudModel, 'digits-big');
    assert.equal(first.inputs.x.dims.join(), '1,784');
    assert.match(first.reason, /INFER_CLOUD_UNAVAILABLE/);
    const online = await agent.models.infer('digits-lf', lowDigit);
    assert.equal(online.route?.servedBy, 'cloud');
    const listing = agent.models.get('digits-lf');
    assert.equal(listing.routing?.route.mode, 'local-first');
    assert.deepEqual(listing.routing?.served, {
      local: 2,
      cloud: 2,
      escalated: 2,
      fallbacks: 1,
      rescoreQueued: 1,
    });
  });
});
