/**
 * The hub's `/metrics`: scraped over real HTTP and parsed with a strict
 * text-format parser; values move after real traffic (a device connects over MQTT and
 * sends batches, one resent, one invalid; admin requests succeed and fail).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { deviceTopic } from '../../shared/index.js';
import {
  api,
  closeClient,
  connectDevice,
  enroll,
  makeBatch,
  sendBatch,
  startHub,
  tempDir,
  waitFor,
} from '../helpers/hub.js';
import { parsePrometheusText, sampleValue } from './prom-text.js';

async function scrape(url: string) {
  const res = await fetch(`${url}/metrics`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  return parsePrometheusText(await res.text());
}

test('the parser refuses what a scraper refuses', () => {
  assert.throws(() => parsePrometheusText('9bad 1'), /not a sample/);
  assert.throws(() => parsePrometheusText('a{x="1} 1'), /unterminated/);
  assert.throws(() => parsePrometheusText('a 1\na 2'), /duplicate series/);
  assert.throws(() => parsePrometheusText('a one'), /bad value/);
  assert.throws(() => parsePrometheusText('a 1\n# TYPE a counter'), /after its samples/);
  const ok = parsePrometheusText('# HELP a x\n# TYPE a counter\na{l="q\\"\\n"} 2 1700000000\n');
  assert.equal(sampleValue(ok, 'a', { l: 'q"\n' }), 2);
});

test('hub /metrics: conventional names, a registry per hub, values follow real traffic', async (t) => {
  const dir = await tempDir();
  const other = await tempDir();
  const hub = await startHub(dir.path);
  const hub2 = await startHub(other.path);
  const creds = await enroll(hub);
  const device = await connectDevice(hub, creds);
  t.after(async () => {
    await closeClient(device.client);
    await hub.close();
    await hub2.close();
    await dir.remove();
    await other.remove();
  });
  // A status so the hub marks the device online, like an agent does.
  await device.client.publishAsync(
    deviceTopic(creds.id, 'status'),
    JSON.stringify({ v: 1, state: 'online', at: Date.now(), conn: 'c1' }),
    { qos: 1, retain: true },
  );
  const before = await scrape(hub.http.url);
  for (const [name, type] of [
    ['outpost_hub_devices', 'gauge'],
    ['outpost_hub_ingest_events_total', 'counter'],
    ['outpost_hub_http_request_duration_seconds', 'histogram'],
    ['outpost_hub_rejected_messages_total', 'counter'],
    ['outpost_hub_mqtt_connections', 'gauge'],
    ['outpost_hub_process_resident_memory_bytes', 'gauge'],
    ['outpost_hub_drift_alerts_total', 'counter'],
  ] as const) {
    assert.equal(before.get(name)?.type, type, `${name} is a ${type}`);
    assert.ok(before.get(name)?.help, `${name} has HELP`);
  }
  for (const f of before.values()) {
    assert.match(f.name, /^outpost_hub_/);
    if (f.type === 'counter') assert.match(f.name, /_total$/, `counter ${f.name} ends in _total`);
    for (const s of f.samples)
      assert.ok(!('device' in s.labels) && !('deviceId' in s.labels), `${s.name}: no per-device series`);
  }
  assert.equal(sampleValue(before, 'outpost_hub_mqtt_connections'), 1);
  await waitFor(
    async () => sampleValue(await scrape(hub.http.url), 'outpost_hub_devices', { state: 'online' }) === 1,
    'device online in metrics',
  );

  await device.client.subscribeAsync(deviceTopic(creds.id, 'ack'), { qos: 1 });
  const epoch = 'metricsepoch0001';
  await sendBatch(device, creds.id, makeBatch(epoch, 1, 5, 'b1'));
  await sendBatch(device, creds.id, makeBatch(epoch, 1, 5, 'b1-again')); // resent: 5 duplicates
  await device.client.publishAsync(deviceTopic(creds.id, 'up'), '{"not":"a batch"}', { qos: 1 });
  assert.equal((await api(hub, 'GET', '/v1/devices')).status, 200);
  assert.equal((await api(hub, 'GET', '/v1/devices', undefined, 'wrong-token-wrong-token')).status, 401);

  const after = await waitFor(async () => {
    const m = await scrape(hub.http.url);
    return (sampleValue(m, 'outpost_hub_rejected_messages_total', { reason: 'up.invalid' }) ?? 0) >= 1 && m;
  }, 'the invalid batch counted');
  assert.equal(sampleValue(after, 'outpost_hub_ingest_events_total'), 5);
  assert.equal(sampleValue(after, 'outpost_hub_ingest_duplicates_total'), 5);
  assert.equal(sampleValue(after, 'outpost_hub_ingest_batches_total'), 2);
  assert.equal(
    sampleValue(after, 'outpost_hub_http_requests_total', {
      method: 'GET',
      route: '/v1/devices',
      status: '200',
    }),
    1,
  );
  assert.equal(
    sampleValue(after, 'outpost_hub_http_requests_total', {
      method: 'GET',
      route: '/v1/devices',
      status: '401',
    }),
    1,
  );
  const count = sampleValue(after, 'outpost_hub_http_request_duration_seconds_count', {
    method: 'GET',
    route: '/v1/devices',
  });
  assert.ok(
    (count ?? 0) >= 2,
    `duration count ${count}: ${JSON.stringify(after.get('outpost_hub_http_request_duration_seconds')?.samples.slice(-3))}`,
  );
  // Scrapes count themselves under their route pattern, never a raw URL.
  assert.ok(
    (sampleValue(after, 'outpost_hub_http_requests_total', { route: '/metrics' }) ?? 0) >= 1,
    JSON.stringify(after.get('outpost_hub_http_requests_total')),
  );

  // The other hub in the same process has its own registry: nothing of the first leaks in.
  const second = await scrape(hub2.http.url);
  assert.equal(sampleValue(second, 'outpost_hub_ingest_events_total'), 0);
  assert.equal(sampleValue(second, 'outpost_hub_devices', { state: 'online' }), 0);
});
