import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { type Agent, createAgent } from '../../agent/index.js';
import { encodeTensors, TENSOR_MEDIA_TYPE } from '../../inference/index.js';
import { agentTestConfig, tempDir, testLogger, waitFor } from '../helpers/agent.js';
import { Cleanups } from '../helpers/fixtures.js';
import { api, enroll, startHub } from '../helpers/hub.js';

// Labelled examples on the agent's local API, under a quota, never uploaded.

async function call(agent: Agent, method: string, path: string, body?: unknown, type = 'application/json') {
  const init: RequestInit = { method };
  if (body !== undefined) {
    init.headers = { 'content-type': type };
    init.body = body instanceof Uint8Array ? body : JSON.stringify(body);
  }
  const res = await fetch(`${agent.api.url}${path}`, init);
  const text = await res.text();
  // biome-ignore lint/suspicious/noExplicitAny: tests read arbitrary JSON
  return { status: res.status, body: (text === '' ? undefined : JSON.parse(text)) as any };
}

/** A distinctive float32 pattern: if these bytes ever reach the hub, a sample leaked. */
function marker(i: number): number[] {
  return Array.from({ length: 16 }, (_, k) => 1234.5678 + i * 16 + k + 0.000123);
}

describe('agent samples', () => {
  const cleanups = new Cleanups();
  after(async () => {
    await cleanups.run();
  });

  it('stores JSON and binary examples, reports stats, refuses past the quota and deletes', async () => {
    const dir = tempDir();
    cleanups.push(() => dir.remove());
    const agent = await createAgent(
      agentTestConfig({
        deviceId: 'dev-samples',
        deviceSecret: 'secret-secret-secret',
        dataDir: dir.path,
        hub: { mqttUrl: 'mqtt://127.0.0.1:9' },
        samples: { maxRows: 10, maxBytes: 4096 },
      }),
      { logger: testLogger() },
    );
    cleanups.push(() => agent.close());

    let res = await call(agent, 'POST', '/v1/samples', { features: [1, 2, 3, 4], label: 3 });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assert.equal(res.body.stored, 1);
    res = await call(agent, 'POST', '/v1/samples', {
      split: 'holdout',
      samples: [
        { features: [0, 0, 0, 1], label: 1 },
        { features: [0, 0, 1, 0], dims: [2, 2], label: 2, split: 'train' },
      ],
    });
    // The second example's shape [2, 2] differs from the first's [4]: nothing stored.
    assert.equal(res.status, 400);
    assert.match(res.body.error.message, /shape \[2,2\] differs/);
    res = await call(agent, 'POST', '/v1/samples', {
      split: 'holdout',
      samples: [
        { features: [0, 0, 0, 1], label: 1 },
        { features: [0, 0, 1, 0], label: 2, split: 'train' },
      ],
    });
    assert.equal(res.status, 201, JSON.stringify(res.body));

    const features = new Float32Array([5, 6, 7, 8, 9, 10, 11, 12]);
    const binary = encodeTensors(
      { features: { dtype: 'float32', dims: [2, 4], data: features } },
      { labels: [7, 7], split: 'train' },
    );
    res = await call(agent, 'POST', '/v1/samples', binary, TENSOR_MEDIA_TYPE);
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assert.equal(res.body.stored, 2);

    res = await call(agent, 'GET', '/v1/samples/stats');
    assert.equal(res.status, 200);
    assert.deepEqual(res.body.total, { rows: 5, bytes: 80 });
    assert.deepEqual(res.body.dims, [4]);
    assert.deepEqual(res.body.splits.train.labels, { '2': 1, '3': 1, '7': 2 });
    assert.deepEqual(res.body.splits.holdout.labels, { '1': 1 });

    // Bad input names what is wrong.
    res = await call(agent, 'POST', '/v1/samples', { features: [1, 2, 3], label: -1 });
    assert.equal(res.status, 400);
    assert.match(res.body.error.message, /label/);
    res = await call(agent, 'POST', '/v1/samples', { features: [1, 2, 3], label: 1 });
    assert.equal(res.status, 400);
    assert.match(res.body.error.message, /shape \[3\] do not match the stored examples' shape \[4\]/);
    const mislabelled = encodeTensors(
      { features: { dtype: 'float32', dims: [2, 4], data: features } },
      { labels: [1] },
    );
    res = await call(agent, 'POST', '/v1/samples', mislabelled, TENSOR_MEDIA_TYPE);
    assert.equal(res.status, 400);
    assert.match(res.body.error.message, /1 labels for 2 examples/);

    // Quota: 10 rows. 5 stored, 6 more would pass it: refused whole, with a clear error.
    const six = Array.from({ length: 6 }, (_, i) => ({ features: [i, i, i, i], label: 0 }));
    res = await call(agent, 'POST', '/v1/samples', { samples: six });
    assert.equal(res.status, 507);
    assert.equal(res.body.error.code, 'AGENT_SAMPLES_FULL');
    assert.match(res.body.error.message, /5 examples .* stored, 6 .* quota of 10 examples/);
    res = await call(agent, 'GET', '/v1/samples/stats');
    assert.equal(res.body.total.rows, 5);

    res = await call(agent, 'DELETE', '/v1/samples?split=holdout');
    assert.deepEqual(res.body, { deleted: 1 });
    res = await call(agent, 'DELETE', '/v1/samples?split=nope');
    assert.equal(res.status, 400);
    assert.match(res.body.error.message, /split/);
    res = await call(agent, 'DELETE', '/v1/samples');
    assert.deepEqual(res.body, { deleted: 4 });
    res = await call(agent, 'GET', '/v1/samples/stats');
    assert.equal(res.body.dims, null);
  });

  it('never sends a sample to the hub', async () => {
    const hubDir = tempDir('outpost-hub-');
    const agentDir = tempDir();
    cleanups.push(
      () => hubDir.remove(),
      () => agentDir.remove(),
    );
    const hub = await startHub(hubDir.path);
    cleanups.push(() => hub.close());
    const creds = await enroll(hub);
    const agent = await createAgent(
      agentTestConfig({
        deviceId: creds.id,
        deviceSecret: creds.secret,
        dataDir: agentDir.path,
        hub: { mqttUrl: hub.mqtt.url },
      }),
      { logger: testLogger() },
    );
    cleanups.push(() => agent.close());
    const samples = Array.from({ length: 50 }, (_, i) => ({ features: marker(i), label: i % 10 }));
    const res = await call(agent, 'POST', '/v1/samples', { samples });
    assert.equal(res.status, 201);
    // Something does travel: an event and the reported state, both acknowledged/stored.
    agent.enqueue({ type: 'app.note', body: { ok: true }, lane: 'control' });
    await waitFor(() => agent.status().outbox.control.acked >= 1, 'the event acked');
    await waitFor(async () => (await api(hub, 'GET', '/v1/devices')).body.devices[0]?.reported, 'reported');

    // The hub's whole data dir (database, WAL, artifacts, keys) holds none of the examples' bytes.
    const needles = samples.map((s) => Buffer.from(new Float32Array(s.features).buffer));
    const files = readdirSync(hubDir.path, { recursive: true, withFileTypes: true }).filter((e) =>
      e.isFile(),
    );
    assert.ok(files.length > 0);
    for (const entry of files) {
      const file = join(entry.parentPath, entry.name);
      const bytes = readFileSync(file);
      for (const needle of needles) assert.equal(bytes.indexOf(needle), -1, `sample bytes found in ${file}`);
      assert.equal(bytes.indexOf(Buffer.from('1234.5678')), -1, `sample values found in ${file}`);
    }
  });
});
