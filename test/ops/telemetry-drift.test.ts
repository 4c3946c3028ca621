/**
 * Device telemetry, agent metrics and drift end to end: a real agent
 * with a real classifier reports to a real hub; its `/metrics` scrape parses and follows
 * its inferences; the hub serves its latest `telemetry.device`; a baseline from a reference
 * sample keeps in-distribution traffic stable, and shifted inputs raise a drift alert
 * (served, counted in the hub's metrics).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { api, waitFor } from '../helpers/hub.js';
import { classesOf, hubWithAgent, inferRows, rows } from './fleet-ops.js';
import { parsePrometheusText, sampleValue } from './prom-text.js';

test('telemetry, agent /metrics and drift: stable traffic stays quiet, shifted inputs raise an alert', async (t) => {
  const fleet = await hubWithAgent({ drift: { minRows: 300 } });
  t.after(() => fleet.close());
  const { hub, agent, model } = fleet;

  // Baseline from a reference sample of N(0, 1) inputs and the classes the model gives them.
  const reference = rows(600, 11);
  const put = await api(hub, 'POST', '/v1/drift/baselines/clf/1.0.0/sample', {
    inputs: reference,
    classes: classesOf(model, reference),
    bins: 10,
  });
  assert.equal(put.status, 200, JSON.stringify(put.body));
  assert.equal(put.body.baseline.features.length, 4);
  const bad = await api(hub, 'POST', '/v1/drift/baselines/clf/1.0.0/sample', { inputs: [[1]], bins: 1 });
  assert.equal(bad.status, 400);
  assert.match(bad.body.error.message, /inputs|bins/);

  // In-distribution traffic (another seed) until the hub has enough rows with features.
  let seed = 100;
  const stable = await waitFor(
    async () => {
      await inferRows(agent, rows(100, seed++));
      const s = (await api(hub, 'GET', '/v1/drift/clf/1.0.0')).body;
      return s.rows >= 500 && s.features.length === 4 && s;
    },
    'stable drift summaries with features',
    60_000,
  );
  assert.ok(stable.psi < 0.2, `stable PSI ${stable.psi}`);
  assert.ok(stable.ks < 0.2, `stable KS ${stable.ks}`);
  assert.equal(stable.drifting, false);
  assert.deepEqual((await api(hub, 'GET', '/v1/drift/alerts')).body.alerts, []);

  // Device telemetry: the engine in use, cache, outbox per lane, memory, disk, uptime.
  const telemetry = await waitFor(async () => {
    const res = await api(hub, 'GET', `/v1/devices/${agent.deviceId}/telemetry`);
    return res.status === 200 && res.body.latest.engines.length === 1 && res.body;
  }, 'device telemetry at the hub');
  assert.deepEqual(telemetry.latest.engines[0], {
    model: 'clf',
    version: '1.0.0',
    precision: 'fp32',
    engine: 'onnx:cpu',
  });
  assert.ok(telemetry.latest.memory.rssBytes > 0);
  assert.ok(telemetry.latest.disk === null || telemetry.latest.disk.totalBytes > 0);
  assert.ok(telemetry.latest.outbox.telemetry, 'outbox telemetry lane reported');
  assert.equal(telemetry.latest.profile, 'x86-64-cpu');
  assert.ok(telemetry.history.length >= 1);
  assert.equal((await api(hub, 'GET', '/v1/devices/nobody/telemetry')).status, 404);

  // Agent /metrics: parses; counters follow this agent's own inferences.
  const scrapeAgent = async () => parsePrometheusText(await (await fetch(`${agent.api.url}/metrics`)).text());
  const labels = { model: 'clf', version: '1.0.0', engine: 'onnx:cpu', role: 'active' };
  const before = sampleValue(await scrapeAgent(), 'outpost_agent_inference_requests_total', labels) ?? 0;
  await inferRows(agent, rows(100, 999));
  const agentMetrics = await scrapeAgent();
  assert.equal(sampleValue(agentMetrics, 'outpost_agent_inference_requests_total', labels), before + 2);
  assert.equal(sampleValue(agentMetrics, 'outpost_agent_inference_errors_total', labels) ?? 0, 0);
  assert.ok(
    (sampleValue(agentMetrics, 'outpost_agent_inference_duration_seconds_count', labels) ?? 0) >= before + 2,
  );
  assert.equal(sampleValue(agentMetrics, 'outpost_agent_link_connected'), 1);
  assert.ok(
    (sampleValue(agentMetrics, 'outpost_agent_outbox_enqueued_total', { lane: 'telemetry' }) ?? 0) > 0,
  );
  assert.notEqual(sampleValue(agentMetrics, 'outpost_agent_outbox_events', { lane: 'results' }), undefined);
  assert.notEqual(sampleValue(agentMetrics, 'outpost_agent_cache_misses_total'), undefined);
  for (const f of agentMetrics.values()) assert.match(f.name, /^outpost_agent_/);

  // Shifted inputs (mean +2): the fleet-wide window drifts, an alert is raised and counted.
  const drifted = await waitFor(
    async () => {
      await inferRows(agent, rows(200, seed++, 2));
      const s = (await api(hub, 'GET', '/v1/drift/clf/1.0.0')).body;
      return s.drifting && s;
    },
    'drift on shifted inputs',
    60_000,
  );
  assert.ok(drifted.psi >= 0.2, `drifted PSI ${drifted.psi}`);
  assert.ok(drifted.history.length >= 2);
  const { alerts } = (await api(hub, 'GET', '/v1/drift/alerts')).body;
  assert.equal(alerts.length, 1);
  assert.equal(alerts[0].model, 'clf');
  assert.equal(alerts[0].clearedAt, null);
  const hubMetrics = parsePrometheusText(await (await fetch(`${hub.http.url}/metrics`)).text());
  assert.equal(sampleValue(hubMetrics, 'outpost_hub_drift_alerts_open'), 1);
  assert.equal(sampleValue(hubMetrics, 'outpost_hub_drift_alerts_total'), 1);
  assert.ok(
    (sampleValue(hubMetrics, 'outpost_hub_drift_psi', { model: 'clf', version: '1.0.0' }) ?? 0) >= 0.2,
  );
  assert.equal(sampleValue(hubMetrics, 'outpost_hub_telemetry_devices'), 1);
});
