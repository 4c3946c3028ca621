/**
 * A hub restart keeps what the fleet's telemetry built up: the devices' telemetry (latest
 * report and the history the dashboard charts), drift history and drift alerts are folded
 * into the store, so a hub restarted on the same data dir (SQLite) or the same database
 * (PostgreSQL) serves them at once, before any device reports again — through the API, the
 * metrics and the dashboard pages.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import type { Hub, HubConfigInput } from '../../hub/index.js';
import { deviceTopic } from '../../shared/index.js';
import {
  api,
  Cleanups,
  closeClient,
  connectDevice,
  enroll,
  startHub,
  tempDir,
  waitFor,
} from '../helpers/hub.js';
import { deviceReport, driftBody, telemetryBatch } from '../helpers/telemetry.js';
import { postgresSpace, probePostgres } from '../store-contract/backends.js';

const pgSkip = await probePostgres();
const T0 = Date.now();

/** What the hub shows of the fleet's telemetry and drift. */
async function snapshot(hub: Hub, deviceId: string) {
  const basic = `Basic ${Buffer.from(`admin:${hub.adminToken}`).toString('base64')}`;
  const page = async (path: string) => {
    const res = await fetch(`${hub.http.url}${path}`, { headers: { authorization: basic } });
    assert.equal(res.status, 200, path);
    return res.text();
  };
  const metrics = await (await fetch(`${hub.http.url}/metrics`)).text();
  return {
    telemetry: (await api(hub, 'GET', `/v1/devices/${deviceId}/telemetry`)).body,
    devices: (await api(hub, 'GET', '/v1/telemetry/devices')).body,
    drift: (await api(hub, 'GET', '/v1/drift/clf/1.0.0')).body,
    alerts: (await api(hub, 'GET', '/v1/drift/alerts')).body.alerts,
    alertsTotal: /^outpost_hub_drift_alerts_total (\d+)/m.exec(metrics)?.[1],
    devicePage: await page(`/dashboard/devices/${deviceId}`),
    driftPage: await page('/dashboard/drift'),
  };
}

for (const backend of ['sqlite', 'postgres'] as const) {
  describe(`hub restart keeps telemetry, drift history and alerts [${backend}]`, {
    skip: backend === 'postgres' ? pgSkip : undefined,
  }, () => {
    const cleanups = new Cleanups();
    after(() => cleanups.run());

    test('restarted on the same data, the hub serves the same telemetry, history and alerts', async () => {
      const dir = await tempDir('outpost-state-restart-');
      cleanups.push(() => dir.remove());
      const config: Partial<HubConfigInput> = { drift: { minRows: 100 } };
      if (backend === 'postgres') {
        const space = await postgresSpace();
        cleanups.push(() => space.dispose());
        config.store = { url: space.url, schema: space.schema };
      }
      let hub = await startHub(dir.path, config);
      cleanups.push(() => hub.close());
      const creds = await enroll(hub, { id: 'restart-dev' });
      const baseline = await api(hub, 'PUT', '/v1/drift/baselines/clf/1.0.0', {
        features: [{ edges: [0], counts: [500, 500] }],
      });
      assert.equal(baseline.status, 200, JSON.stringify(baseline.body));

      // Device reports and skewed drift summaries, as an agent sends them.
      const device = await connectDevice(hub, creds);
      cleanups.push(() => closeClient(device.client));
      await device.client.subscribeAsync(deviceTopic(creds.id, 'ack'), { qos: 1 });
      let seq = 1;
      for (let k = 0; k < 5; k++) {
        const batch = telemetryBatch('epochrestart', seq, [
          { kind: 'device', body: deviceReport(T0 + k * 1000, k, 1_000_000 + k) },
          { kind: 'drift', body: driftBody('clf', '1.0.0', [45, 5]) },
        ]);
        seq += batch.events.length;
        await device.client.publishAsync(deviceTopic(creds.id, 'up'), JSON.stringify(batch), { qos: 1 });
        await waitFor(
          () => device.received(deviceTopic(creds.id, 'ack')).some((a) => a.batchId === batch.batchId),
          'the batch acked',
        );
      }
      await waitFor(async () => {
        const s = await snapshot(hub, creds.id);
        return s.telemetry?.history?.length === 5 && s.alerts.length === 1 && s.drift.rows === 250;
      }, 'the telemetry folded and the alert raised');
      const before = await snapshot(hub, creds.id);
      assert.equal(before.telemetry.latest.at, T0 + 4000);
      assert.equal(before.alerts[0].clearedAt, null);
      assert.equal(before.drift.drifting, true);
      assert.ok(before.drift.history.length >= 1);
      assert.equal(before.alertsTotal, '1');
      assert.match(before.driftPage, /id="drift-alerts-table"[\s\S]*clf@1\.0\.0[\s\S]*open/);
      assert.match(before.devicePage, /Outbox depth/);

      await closeClient(device.client);
      await hub.close();
      hub = await startHub(dir.path, config);
      // Nothing new arrives: what is served comes from the store.
      const restarted = await snapshot(hub, creds.id);
      assert.deepEqual(restarted.telemetry, before.telemetry, 'latest report and history');
      assert.deepEqual(restarted.devices, before.devices);
      assert.deepEqual(restarted.alerts, before.alerts, 'drift alerts');
      assert.deepEqual(restarted.drift.history, before.drift.history, 'drift history');
      assert.equal(restarted.drift.rows, before.drift.rows, 'the drift window');
      assert.equal(restarted.drift.drifting, true);
      assert.equal(restarted.alertsTotal, '1');
      // The dashboard draws the same charts and the same alert table.
      assert.equal(
        restarted.devicePage.replace(/\d+ (s|min|h) ago/g, ''),
        before.devicePage.replace(/\d+ (s|min|h) ago/g, ''),
      );
      assert.match(restarted.driftPage, /id="drift-alerts-table"[\s\S]*clf@1\.0\.0[\s\S]*open/);
    });
  });
}
