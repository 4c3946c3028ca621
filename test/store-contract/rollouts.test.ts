import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import type { HubStore } from '../../hub/index.js';
import {
  LATENCY_BUCKETS_MS,
  MODEL_TELEMETRY_EVENT,
  OutpostError,
  type RolloutRequest,
} from '../../shared/index.js';
import { contract } from './suite.js';

// Rollouts as a store contract: state changes with their timeline entry,
// assignments, and the exactly-once fold of telemetry.model events into counters.

const spec = { model: 'digits', version: '2.0.0', mode: 'canary' } as unknown as RolloutRequest;
const event = (kind: string, at: number) => ({ at, kind, stage: 0, message: kind, detail: { kind } });
const metrics = (requests: number, version = '2.0.0') => ({
  model: 'digits',
  version,
  role: 'active' as const,
  requests,
  errors: 0,
  latency: [requests, ...Array(LATENCY_BUCKETS_MS.length).fill(0)],
  latencySumMs: requests,
  confidenceSum: 0,
  confidenceCount: 0,
});

contract('HubStore contract: rollouts', (ctx) => {
  let store: HubStore;
  before(async () => {
    store = ctx().store;
    await store.createDevice({ id: 'r1', secretHash: 'x', createdAt: 1 });
  });

  test('a rollout is created running at stage 0 with its timeline; updates append in order', async () => {
    const created = await store.createRollout('r-a', spec, 100, event('created', 100));
    assert.deepEqual(
      [created.state, created.stage, created.stageStartedAt, created.reason],
      ['running', 0, 100, null],
    );
    assert.deepEqual(created.spec, spec);
    const paused = await store.updateRollout('r-a', { state: 'paused' }, event('paused', 110), 110, [
      'running',
    ]);
    assert.deepEqual([paused.state, paused.updatedAt], ['paused', 110]);
    await assert.rejects(
      store.updateRollout('r-a', { state: 'running' }, undefined, 111, ['running']),
      (err) => err instanceof OutpostError && err.code === 'HUB_ROLLOUT_CONFLICT',
    );
    await assert.rejects(
      store.updateRollout('r-none', {}, undefined, 111),
      (err) => err instanceof OutpostError && err.code === 'HUB_ROLLOUT_NOT_FOUND',
    );
    await store.updateRollout('r-a', { state: 'running', stage: 1, stageStartedAt: 120 }, undefined, 120);
    await store.appendRolloutEvents([{ ...event('stage', 120), rolloutId: 'r-a' }]);
    const timeline = await store.listRolloutEvents('r-a');
    assert.deepEqual(
      timeline.map((e) => [e.seq, e.kind, e.detail]),
      [
        [1, 'created', { kind: 'created' }],
        [2, 'paused', { kind: 'paused' }],
        [3, 'stage', { kind: 'stage' }],
      ],
    );
    await store.createRollout('r-b', spec, 200, event('created', 200));
    assert.deepEqual(
      (await store.listRollouts()).map((r) => r.id),
      ['r-b', 'r-a'],
      'newest first',
    );
    assert.equal((await store.getRollout('r-a'))?.stage, 1);
    assert.equal(await store.getRollout('nope'), undefined);
  });

  test('device assignments are replaced by key; telemetry folds once into counters', async () => {
    const device = {
      rolloutId: 'r-b',
      deviceId: 'r1',
      arm: 'candidate' as const,
      version: '2.0.0',
      role: 'active' as const,
      stage: 0,
      assignedAt: 200,
      previous: '1.0.0',
      reportedAt: null,
      excludedAt: null,
      rolledBackAt: null,
    };
    await store.putRolloutDevices([device]);
    // The timeline entry that explains an assignment is written with it.
    const before = (await store.listRolloutEvents('r-b')).length;
    const entry = {
      rolloutId: 'r-b',
      at: 201,
      kind: 'assigned',
      stage: 0,
      message: 'r1 pinned',
      detail: { id: 'r1' },
    };
    await store.putRolloutDevices([{ ...device, previous: '1.1.0' }], [entry]);
    const listed = await store.listRolloutDevices('r-b');
    assert.deepEqual(
      listed.map((d) => [d.deviceId, d.previous, d.reportedAt]),
      [['r1', '1.1.0', null]],
    );
    const timeline = await store.listRolloutEvents('r-b');
    assert.equal(timeline.length, before + 1);
    assert.deepEqual({ ...timeline.at(-1), seq: undefined }, { ...entry, seq: undefined });
    const telemetry = (seq: number, requests: number, type = MODEL_TELEMETRY_EVENT) => ({
      seq,
      type,
      at: 1000 + seq,
      body: { from: 1000, to: 2000 + seq, models: [metrics(requests)] },
    });
    await store.ingestBatch(
      'r1',
      {
        v: 1,
        epoch: 'epochfold1',
        lane: 'telemetry',
        batchId: 'f1',
        events: [
          telemetry(1, 3),
          telemetry(2, 4),
          { seq: 3, type: MODEL_TELEMETRY_EVENT, at: 1, body: { bad: 1 } },
        ],
      },
      300,
    );
    const first = await store.foldModelTelemetry(2);
    assert.deepEqual(first, { events: 2, invalid: 0, firstReports: 1 }, 'limit 2 stops after two events');
    const second = await store.foldModelTelemetry(100);
    assert.deepEqual(second, { events: 0, invalid: 1, firstReports: 0 });
    assert.deepEqual(
      await store.foldModelTelemetry(100),
      { events: 0, invalid: 0, firstReports: 0 },
      'nothing twice',
    );
    const counters = await store.modelCounters({ rolloutId: 'r-b' });
    assert.equal(counters.length, 1);
    assert.deepEqual(
      [counters[0]?.counters.requests, counters[0]?.firstAt, counters[0]?.lastAt],
      [7, 1000, 2002],
    );
    assert.notEqual((await store.listRolloutDevices('r-b'))[0]?.reportedAt, null);
    assert.deepEqual(await store.modelCounters({ model: 'other' }), []);
  });

  test('two handles folding at once count every event exactly once', async () => {
    const second = await ctx().space.open();
    try {
      const events = Array.from({ length: 30 }, (_, i) => ({
        seq: i + 1,
        type: MODEL_TELEMETRY_EVENT,
        at: 1,
        body: { from: 5000, to: 5001, models: [metrics(1, '3.0.0')] },
      }));
      await store.ingestBatch(
        'r1',
        { v: 1, epoch: 'epochfold2', lane: 'telemetry', batchId: 'f2', events },
        400,
      );
      const passes = await Promise.all(
        Array.from({ length: 6 }, (_, i) => (i % 2 === 0 ? store : second).foldModelTelemetry(7)),
      );
      let folded = passes.reduce((n, p) => n + p.events, 0);
      for (;;) {
        const more = await store.foldModelTelemetry(100);
        folded += more.events;
        if (more.events === 0) break;
      }
      assert.equal(folded, 30);
      const rows = await store.modelCounters({ model: 'digits', deviceId: 'r1' });
      const v3 = rows.filter((r) => r.version === '3.0.0');
      assert.equal(
        v3.reduce((n, r) => n + r.counters.requests, 0),
        30,
      );
    } finally {
      await second.close();
    }
  });
});
