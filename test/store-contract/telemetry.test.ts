import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { DEFAULT_DRIFT_SETTINGS, type DriftSettings } from '../../hub/drift/window.js';
import type { HubStore } from '../../hub/index.js';
import { DEVICE_HISTORY_POINTS } from '../../hub/telemetry/device-book.js';
import { deviceReport, driftBody, evenBaseline, telemetryBatch } from '../helpers/telemetry.js';
import { contract } from './suite.js';

// Device telemetry and drift as a store contract: the fold of the stored telemetry events
// (exactly once, whoever folds, in passes cut at a limit), each device's latest report and
// history, drift buckets, evaluations that raise and clear alerts, and all of it read back
// by another handle (a restarted hub, another replica).

const T0 = 1_700_000_000_000;
const SETTINGS: DriftSettings = { ...DEFAULT_DRIFT_SETTINGS, minRows: 200, windowMs: 60_000 };

async function device(store: HubStore, id: string): Promise<void> {
  await store.createDevice({ id, secretHash: 'x', createdAt: 1 });
}

/** Folds until nothing is left; the passes' results. */
async function foldAll(store: HubStore, now: number, limit = 1000) {
  const passes = [];
  for (;;) {
    const r = await store.foldTelemetry({ limit, drift: SETTINGS, now });
    passes.push(r);
    if (!r.more) return passes;
  }
}

contract('HubStore contract: device telemetry and drift', (ctx) => {
  let store: HubStore;
  before(() => {
    store = ctx().store;
  });

  test('device reports fold once into the latest report and a sorted, bounded history', async () => {
    await device(store, 'tel-a');
    await device(store, 'tel-b');
    assert.equal(await store.getDeviceTelemetry('tel-a'), undefined);
    // Reports at T0 + 1 s … ; one of them arrives after a newer one (history only).
    const reports = [1, 2, 4, 3].map((k) => ({
      kind: 'device' as const,
      body: deviceReport(T0 + k * 1000, k),
    }));
    await store.ingestBatch('tel-a', telemetryBatch('epocht1', 1, reports), T0 + 5000);
    await store.ingestBatch(
      'tel-b',
      telemetryBatch('epocht1', 1, [
        { kind: 'device', body: deviceReport(T0, 7) },
        { kind: 'device', body: { at: 'not a report' } },
      ]),
      T0 + 6000,
    );
    const [pass] = await foldAll(store, T0 + 10_000);
    assert.equal(pass?.devices, 5);
    assert.equal(pass?.invalid.length, 1);
    assert.equal(pass?.invalid[0]?.deviceId, 'tel-b');
    const a = await store.getDeviceTelemetry('tel-a');
    assert.equal(a?.latest.at, T0 + 4000, 'the newest report is the latest, whatever the order');
    assert.equal(a?.receivedAt, T0 + 5000, 'hub time at ingest');
    assert.deepEqual(
      a?.history.map((p) => [p.at, p.depth]),
      [1, 2, 3, 4].map((k) => [T0 + k * 1000, k]),
    );
    assert.equal(a?.history[0]?.hitRate, 0.5);
    assert.deepEqual(
      (await store.listDeviceTelemetry()).map((e) => [e.deviceId, e.latest.at]),
      [
        ['tel-a', T0 + 4000],
        ['tel-b', T0],
      ],
    );
    // Folded once: another pass finds nothing.
    const again = await store.foldTelemetry({ limit: 1000, drift: SETTINGS, now: T0 + 11_000 });
    assert.deepEqual([again.devices, again.drift, again.invalid.length, again.more], [0, 0, 0, false]);
    assert.deepEqual(await store.telemetryCounts(), { devices: 2, invalid: { device: 1, drift: 0 } });

    // Past the history bound, the oldest points go.
    const many = Array.from({ length: DEVICE_HISTORY_POINTS + 10 }, (_, i) => ({
      kind: 'device' as const,
      body: deviceReport(T0 + 100_000 + i * 1000),
    }));
    await store.ingestBatch('tel-a', telemetryBatch('epocht1', 5, many), T0 + 200_000);
    await foldAll(store, T0 + 200_000, 37);
    const bounded = await store.getDeviceTelemetry('tel-a');
    assert.equal(bounded?.history.length, DEVICE_HISTORY_POINTS);
    assert.equal(bounded?.history.at(-1)?.at, T0 + 100_000 + (DEVICE_HISTORY_POINTS + 9) * 1000);
  });

  test('a pass stops at its limit and the next one goes on from there; other events are passed over', async () => {
    await device(store, 'tel-c');
    const mixed = telemetryBatch('epocht2', 1, [
      { kind: 'device', body: deviceReport(T0 + 1) },
      { kind: 'device', body: deviceReport(T0 + 2) },
    ]);
    // A telemetry.model event between them is not this fold's business.
    mixed.events.splice(1, 0, {
      seq: 2,
      type: 'telemetry.model',
      at: T0,
      body: { from: T0, to: T0, models: [] },
    } as (typeof mixed.events)[number]);
    mixed.events[2] = { ...(mixed.events[2] as (typeof mixed.events)[number]), seq: 3 };
    await store.ingestBatch('tel-c', mixed, T0);
    await store.ingestBatch(
      'tel-c',
      telemetryBatch(
        'epocht2',
        4,
        [3, 4, 5].map((k) => ({ kind: 'device' as const, body: deviceReport(T0 + k) })),
      ),
      T0,
    );
    const passes = await foldAll(store, T0, 2);
    assert.ok(passes.length >= 3, `${passes.length} passes`);
    assert.equal(
      passes.reduce((n, p) => n + p.devices, 0),
      5,
    );
    assert.equal((await store.getDeviceTelemetry('tel-c'))?.history.length, 5);
  });

  test('two handles folding at once fold every report exactly once', async () => {
    const second = await ctx().space.open();
    try {
      const ids = ['tel-p0', 'tel-p1', 'tel-p2'];
      for (const id of ids) await device(store, id);
      for (const id of ids)
        for (let b = 0; b < 4; b++)
          await store.ingestBatch(
            id,
            telemetryBatch(
              'epocht3',
              1 + b * 5,
              Array.from({ length: 5 }, (_, i) => ({
                kind: 'device' as const,
                body: deviceReport(T0 + b * 5 + i),
              })),
            ),
            T0,
          );
      const passes = await Promise.all(
        Array.from({ length: 8 }, (_, i) =>
          (i % 2 === 0 ? store : second).foldTelemetry({ limit: 7, drift: SETTINGS, now: T0 }),
        ),
      );
      let folded = passes.reduce((n, p) => n + p.devices, 0);
      folded += (await foldAll(store, T0, 7)).reduce((n, p) => n + p.devices, 0);
      assert.equal(folded, ids.length * 20);
      for (const id of ids) assert.equal((await second.getDeviceTelemetry(id))?.history.length, 20);
    } finally {
      await second.close();
    }
  });

  test('drift: summaries in buckets, an alert raised and cleared once, windows forget old summaries', async () => {
    await device(store, 'drift-a');
    await device(store, 'drift-b');
    await store.putDriftBaseline(evenBaseline('clf', '1.0.0'));
    assert.deepEqual((await store.getDriftBaseline('clf', '1.0.0'))?.features[0]?.counts, [500, 500]);
    assert.deepEqual(await store.listDriftModels(), [{ model: 'clf', version: '1.0.0' }]);
    // Each device sends skewed summaries; together they pass minRows and drift.
    await store.ingestBatch(
      'drift-a',
      telemetryBatch('epochd1', 1, [{ kind: 'drift', body: driftBody('clf', '1.0.0', [140, 10]) }]),
      T0 + 1000,
    );
    await store.ingestBatch(
      'drift-b',
      telemetryBatch('epochd1', 1, [
        { kind: 'drift', body: driftBody('clf', '1.0.0', [140, 10]) },
        { kind: 'drift', body: { models: 'nope' } },
      ]),
      T0 + 2000,
    );
    const [pass] = await foldAll(store, T0 + 3000);
    assert.equal(pass?.drift, 2);
    assert.equal(pass?.invalid[0]?.kind, 'drift');
    const raised = pass?.evaluations.find((e) => e.raised)?.raised;
    assert.ok(raised, JSON.stringify(pass?.evaluations));
    assert.deepEqual(
      [raised.model, raised.version, raised.rows, raised.clearedAt],
      ['clf', '1.0.0', 300, null],
    );
    const window = await store.driftWindow('clf', '1.0.0', T0 + 3000 - SETTINGS.windowMs);
    assert.equal(window.sums.rows, 300);
    assert.deepEqual(window.sums.features[0]?.['2'], [280, 20]);
    assert.equal(window.devices, 2);
    assert.equal(window.history.length, 1);
    assert.deepEqual(await store.driftAlertCounts(), { open: 1, raised: raised.id });

    // Balanced summaries bring the window back: the alert clears (once), no new one.
    await store.ingestBatch(
      'drift-a',
      telemetryBatch('epochd1', 2, [{ kind: 'drift', body: driftBody('clf', '1.0.0', [10, 290]) }]),
      T0 + 4000,
    );
    const [clearing] = await foldAll(store, T0 + 5000);
    assert.equal(clearing?.evaluations[0]?.cleared?.id, raised.id);
    const alerts = await store.listDriftAlerts();
    assert.equal(alerts.length, 1);
    assert.equal(alerts[0]?.clearedAt, T0 + 5000);
    assert.deepEqual(await store.driftAlertCounts(), { open: 0, raised: raised.id });

    // An evaluation once the summaries left the window: no rows, history grows, nothing raised.
    const later = await store.evaluateDrift('clf', '1.0.0', SETTINGS, T0 + 5000 + SETTINGS.windowMs + 60_000);
    assert.equal(later.verdict.rows, 0);
    assert.equal(later.verdict.devices, 0);
    assert.equal(later.history.length, 3);
    assert.equal(later.raised, undefined);
    assert.deepEqual(await store.telemetryCounts().then((c) => c.invalid.drift), 1);

    // A second handle (a restarted hub, another replica) reads the same.
    const second = await ctx().space.open();
    try {
      assert.deepEqual(await second.listDriftAlerts(), await store.listDriftAlerts());
      assert.equal((await second.driftWindow('clf', '1.0.0', 0)).history.length, 3);
      assert.equal((await second.listDriftBaselines()).length, 1);
    } finally {
      await second.close();
    }
  });

  test('drift histograms of another length do not mix; a version without baseline never alerts', async () => {
    await device(store, 'drift-c');
    await store.ingestBatch(
      'drift-c',
      telemetryBatch('epochd2', 1, [
        { kind: 'drift', body: driftBody('other', '2.0.0', [300, 0]) },
        {
          kind: 'drift',
          body: {
            from: T0,
            to: T0,
            models: [{ model: 'other', version: '2.0.0', rows: 5, features: [[1, 2, 2]], classes: [1, 4] }],
          },
        },
      ]),
      T0 + 1000,
    );
    const [pass] = await foldAll(store, T0 + 2000);
    const evaluation = pass?.evaluations.find((e) => e.model === 'other');
    assert.equal(evaluation?.verdict.hasBaseline, false);
    assert.equal(evaluation?.raised, undefined);
    const window = await store.driftWindow('other', '2.0.0', 0);
    assert.deepEqual(window.sums.features[0], { '2': [300, 0], '3': [1, 2, 2] });
    assert.deepEqual(window.sums.classes, [1, 4]);
    assert.deepEqual(
      (await store.listDriftModels()).map((m) => `${m.model}@${m.version}`),
      ['clf@1.0.0', 'other@2.0.0'],
    );
  });
});
