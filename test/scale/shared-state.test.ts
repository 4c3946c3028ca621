import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { MqttClient } from 'mqtt';
import type { Hub } from '../../hub/index.js';
import { deviceTopic } from '../../shared/index.js';
import { api, closeClient, loginDevice, waitFor } from '../helpers/hub.js';
import { deviceReport, driftBody, telemetryBatch } from '../helpers/telemetry.js';
import { probePostgres } from '../store-contract/backends.js';
import { mosquittoSkip, type ReplicasOnMosquitto, startReplicasOnMosquitto } from './mosquitto.js';

// Two hub replicas on one PostgreSQL behind our own Mosquitto, the devices' uplink split
// between them by the shared subscription: each replica stores only its share of the
// telemetry, yet both show the whole fleet — the same device telemetry, drift window and
// drift alerts — because what the fold derives lives in the store. The budget of failed
// device credentials is one for both replicas.

const HUB_PASSWORD = 'hub-broker-password-for-shared-state';
const DEVICES = 6;
const REPORTS = 4;
const T0 = Date.now();

describe('two replicas behind an external broker show the same fleet', {
  skip: mosquittoSkip() ?? (await probePostgres()),
}, () => {
  let replicas: ReplicasOnMosquitto;
  const clients: MqttClient[] = [];
  before(async () => {
    replicas = await startReplicasOnMosquitto({
      hubPassword: HUB_PASSWORD,
      authDirPrefix: 'outpost-shared-state-auth-',
      deviceIdPrefix: 'shared-dev-',
      devices: DEVICES,
      hub: { drift: { minRows: 200 }, limits: { http: { failureBurst: 3, failuresPerS: 0.01 } } },
    });
  });
  after(async () => {
    for (const c of clients) await closeClient(c);
    await replicas?.close();
  });

  test('each replica ingests a share; both serve every device telemetry and the same drift alert', async () => {
    const [a, b] = replicas.hubs as [Hub, Hub];
    const put = await api(a, 'PUT', '/v1/drift/baselines/clf/1.0.0', {
      features: [{ edges: [0], counts: [500, 500] }],
    });
    assert.equal(put.status, 200, JSON.stringify(put.body));
    await Promise.all(
      replicas.devices.map(async (creds, d) => {
        const client = await waitFor(
          () => loginDevice(replicas.mosquitto.url, creds).catch(() => false as const),
          `the broker to accept ${creds.id}`,
        );
        clients.push(client);
        const acks = new Set<string>();
        client.on('message', (_t, payload) => acks.add(JSON.parse(payload.toString()).batchId));
        await client.subscribeAsync(deviceTopic(creds.id, 'ack'), { qos: 1 });
        for (let k = 0; k < REPORTS; k++) {
          const batch = telemetryBatch('epochshared', 1 + k * 2, [
            { kind: 'device', body: deviceReport(T0 + k * 1000, d + k) },
            { kind: 'drift', body: driftBody('clf', '1.0.0', [9, 1]) },
          ]);
          await client.publishAsync(deviceTopic(creds.id, 'up'), JSON.stringify(batch), { qos: 1 });
          await waitFor(() => acks.has(batch.batchId), `ack of ${batch.batchId}`, 30_000);
        }
      }),
    );
    const [sa, sb] = [a.stats().ingest, b.stats().ingest];
    assert.equal(sa.stored + sb.stored, DEVICES * REPORTS * 2, 'together the replicas stored every event');
    assert.ok(sa.batches > 0 && sb.batches > 0, `each replica took a share (${sa.batches}, ${sb.batches})`);

    const view = async (hub: Hub) => ({
      devices: (await api(hub, 'GET', '/v1/telemetry/devices')).body.devices,
      histories: await Promise.all(
        replicas.devices.map(
          async (d) => (await api(hub, 'GET', `/v1/devices/${d.id}/telemetry`)).body.history,
        ),
      ),
      drift: (await api(hub, 'GET', '/v1/drift/clf/1.0.0')).body,
      alerts: (await api(hub, 'GET', '/v1/drift/alerts')).body.alerts,
    });
    const seen = await waitFor(
      async () => {
        const v = await view(a);
        // The list of devices is read before the histories: a device counts as folded in
        // it only once its latest report is the last one it sent.
        return (
          v.devices.length === DEVICES &&
          v.devices.every((d: { latest: { at: number } }) => d.latest.at === T0 + (REPORTS - 1) * 1000) &&
          v.histories.every((h: unknown[] | undefined) => h?.length === REPORTS) &&
          v.drift.rows === DEVICES * REPORTS * 10 &&
          v.alerts.length === 1 &&
          v
        );
      },
      'every device folded',
      30_000,
    );
    const other = await view(b);
    assert.deepEqual(other.devices, seen.devices, 'the same device telemetry on both replicas');
    assert.deepEqual(other.histories, seen.histories, 'the same history on both replicas');
    assert.deepEqual(other.alerts, seen.alerts, 'the same drift alerts on both replicas');
    assert.deepEqual(
      [other.drift.rows, other.drift.devices, other.drift.drifting, other.drift.history],
      [seen.drift.rows, DEVICES, true, seen.drift.history],
    );
    assert.equal(seen.alerts[0].clearedAt, null);
    // The fleet page of either replica counts the one open alert.
    const basic = `Basic ${Buffer.from(`admin:${b.adminToken}`).toString('base64')}`;
    const fleet = await (
      await fetch(`${b.http.url}/dashboard`, { headers: { authorization: basic } })
    ).text();
    assert.match(fleet, /id="drift-alerts"><b class="bad">1<\/b>/);
  });

  test('failed device credentials spend one budget across the replicas', async () => {
    const [a, b] = replicas.hubs as [Hub, Hub];
    const path = `/v1/artifacts/${'ab'.repeat(32)}`;
    const wrong = `Basic ${Buffer.from(`${replicas.devices[0]?.id}:not-the-secret`).toString('base64')}`;
    const call = (hub: Hub) => fetch(`${hub.http.url}${path}`, { headers: { authorization: wrong } });
    // Three failures in a row (the burst), alternating replicas; the fourth is refused unchecked.
    for (const hub of [a, b, a]) assert.equal((await call(hub)).status, 401);
    assert.equal((await call(b)).status, 429, 'the other replica knows the budget is spent');
    assert.equal((await call(a)).status, 429);
    // The budget is per source address: right credentials from it wait too (no scrypt is spent).
    const right = `Basic ${Buffer.from(`${replicas.devices[1]?.id}:${replicas.devices[1]?.secret}`).toString('base64')}`;
    assert.equal((await fetch(`${b.http.url}${path}`, { headers: { authorization: right } })).status, 429);
  });
});
