import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { pino } from 'pino';
import { deviceTopic, MODEL_TELEMETRY_EVENT, type UplinkBatch } from '../../shared/index.js';
import {
  api,
  connectDevice,
  type HubWithEnrolledDevice,
  makeBatch,
  sendBatch,
  startHubWithEnrolledDevice,
  type TestDevice,
  waitFor,
} from '../helpers/hub.js';
import { deviceReport, telemetryBatch } from '../helpers/telemetry.js';
import { parsePrometheusText, sampleValue } from '../ops/prom-text.js';
import { postgresSpace, probePostgres } from '../store-contract/backends.js';

// Event retention in a real hub with a protocol-level device: with `events.retention.maxAgeDays`
// set, a pass deletes old events every reader has consumed, keeps telemetry the model-metrics
// fold has not read until it has, and a batch re-sent after its events went is acked as a
// duplicate and not stored again. The retention clock is moved 30 days on instead of waiting.

const DAY_MS = 24 * 60 * 60 * 1000;

const backends: Array<{ name: string; skip: string | undefined }> = [
  { name: 'sqlite', skip: undefined },
  { name: 'postgres', skip: await probePostgres() },
];

for (const backend of backends)
  describe(`hub: event retention [${backend.name}]`, { skip: backend.skip }, () => {
    let fixture: HubWithEnrolledDevice;
    let dispose: (() => Promise<void>) | undefined;
    let device: TestDevice;
    let id: string;
    /** The retention clock: the wall clock until the test sets it. */
    let retentionNow: number | undefined;
    const logs: Array<Record<string, unknown>> = [];

    before(async () => {
      let store = {};
      if (backend.name === 'postgres') {
        const space = await postgresSpace();
        dispose = () => space.dispose();
        store = { store: { url: space.url, schema: space.schema } };
      }
      const logger = pino({ level: 'info' }, { write: (line: string) => void logs.push(JSON.parse(line)) });
      fixture = await startHubWithEnrolledDevice({
        hub: {
          ...store,
          events: { retention: { maxAgeDays: 30, batchRows: 2 } },
          // The driver (and with it the model-metrics fold) runs only when the test ticks it.
          rollouts: { tickMs: 600_000 },
        },
        build: { logger, eventRetentionNow: () => retentionNow ?? Date.now() },
      });
      id = fixture.creds.id;
      device = await connectDevice(fixture.hub, fixture.creds);
      fixture.connected.push(device);
      await device.client.subscribeAsync(deviceTopic(id, 'ack'), { qos: 1 });
    });
    after(async () => {
      await fixture?.close();
      await dispose?.();
    });

    const listed = async (query: string) =>
      (await api(fixture.hub, 'GET', `/v1/devices/${id}/events?${query}`)).body.events.map(
        (e: { seq: number }) => e.seq,
      );

    test('old consumed events go; unread telemetry waits for its fold; a re-sent batch stays a duplicate', async () => {
      // The start pass found nothing old.
      await fixture.hub.eventRetention.idle();
      assert.equal(fixture.hub.stats().retention.passes, 1);

      const results = makeBatch('epochret1', 1, 5, 'old-results');
      assert.equal((await sendBatch(device, id, results)).stored, 5);
      const reports = [1, 2, 3].map((k) => ({ kind: 'device' as const, body: deviceReport(k * 1000, k) }));
      const telemetry: UplinkBatch = telemetryBatch('epochret1', 1, reports, 'old-telemetry');
      telemetry.events.push({
        seq: 4,
        type: MODEL_TELEMETRY_EVENT,
        at: 4,
        body: { from: 1, to: 2, models: [] },
      } as UplinkBatch['events'][number]);
      assert.equal((await sendBatch(device, id, telemetry)).stored, 4);
      // The telemetry fold runs on every replica after telemetry is stored.
      await waitFor(
        async () => (await fixture.hub.store.getDeviceTelemetry(id))?.latest.at === 3000,
        'telemetry folded',
      );
      const cut = Date.now();
      await waitFor(() => Date.now() > cut, 'the clock moves past the old batches');
      assert.equal((await sendBatch(device, id, makeBatch('epochret1', 6, 2, 'young-results'))).stored, 2);

      // 30 days after the old batches: they are old, the young one is not.
      retentionNow = cut + 30 * DAY_MS + 1;
      const first = await fixture.hub.eventRetention.pruneAll();
      assert.deepEqual(first.byLane, { results: 5 }, 'telemetry waits for the model-metrics fold');
      assert.deepEqual(await listed('lane=results'), [6, 7]);
      assert.deepEqual(await listed('lane=telemetry'), [1, 2, 3, 4]);

      await fixture.hub.rollouts.driver.tick();
      const second = await fixture.hub.eventRetention.pruneAll();
      assert.deepEqual(second.byLane, { telemetry: 4 });
      assert.deepEqual(await listed('lane=telemetry'), []);
      assert.equal(await fixture.hub.store.countEvents(id), 2);
      // What the fold made of them stays.
      assert.equal((await fixture.hub.store.getDeviceTelemetry(id))?.latest.at, 3000);

      // The agent never saw the ack of the old batch and sends it again: acked, not stored.
      const again = await sendBatch(device, id, { ...results, batchId: 'old-results-again' });
      assert.deepEqual([again.hwm, again.stored, again.duplicates], [7, 0, 5]);
      const telemetryAgain = await sendBatch(device, id, { ...telemetry, batchId: 'old-telemetry-again' });
      assert.deepEqual([telemetryAgain.hwm, telemetryAgain.stored, telemetryAgain.duplicates], [4, 0, 4]);
      assert.equal(await fixture.hub.store.countEvents(id), 2);

      // The listing: what is left, in order; a cursor of a deleted event pages on from it.
      assert.deepEqual(await listed(''), [6, 7]);
      assert.deepEqual(await listed('lane=results&epoch=epochret1&after=2'), [6, 7]);
      const page = (await api(fixture.hub, 'GET', `/v1/devices/${id}/events?limit=1`)).body;
      assert.equal(page.next, 'epochret1.results.6');

      // Counted in /v1/stats and /metrics, logged at info with the counts.
      const stats = (await api(fixture.hub, 'GET', '/v1/stats')).body;
      assert.equal(stats.retention.events, 9);
      const scraped = parsePrometheusText(await (await fetch(`${fixture.hub.http.url}/metrics`)).text());
      assert.equal(sampleValue(scraped, 'outpost_hub_events_deleted_total', {}), 9);
      const lines = logs.filter((l) => l.msg === 'event retention: old consumed events deleted');
      assert.deepEqual(
        lines.slice(-2).map((l) => [l.level, l.deleted, l.byLane]),
        [
          [30, 5, { results: 5 }],
          [30, 4, { telemetry: 4 }],
        ],
      );
    });
  });
