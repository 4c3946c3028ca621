import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  addCounters,
  cohortPosition,
  emptyCounters,
  GateSyntaxError,
  judgeGates,
  LATENCY_BUCKET_COUNT,
  latencyBucket,
  latencyQuantile,
  matchesSelector,
  parseDurationMs,
  parseGate,
  parseSelector,
  RolloutRequestSchema,
} from '../../shared/index.js';

test('gates parse with every operator and spaces; the text is normalised', () => {
  assert.deepEqual(parseGate('error_rate<0.01'), {
    metric: 'error_rate',
    op: '<',
    threshold: 0.01,
    text: 'error_rate<0.01',
  });
  assert.equal(parseGate(' p95_ms <= 50 ').op, '<=');
  assert.equal(parseGate('agreement>0.95').op, '>');
  assert.deepEqual(parseGate('requests >= 100'), {
    metric: 'requests',
    op: '>=',
    threshold: 100,
    text: 'requests>=100',
  });
  assert.equal(parseGate('mean_ms<1e2').threshold, 100);
});

test('bad gates name what is wrong', () => {
  assert.throws(
    () => parseGate('latency<5'),
    (e: Error) => {
      assert.ok(e instanceof GateSyntaxError);
      assert.match(e.message, /unknown metric "latency"/);
      assert.match(e.message, /error_rate/);
      return true;
    },
  );
  assert.throws(() => parseGate('error_rate=0.1'), /METRIC OP NUMBER/);
  assert.throws(() => parseGate('error_rate<'), /METRIC OP NUMBER/);
  assert.throws(() => parseGate('<0.1'), /METRIC OP NUMBER/);
  const bad = RolloutRequestSchema.safeParse({ model: 'm', version: '1.0.0', gates: ['p95<5'] });
  assert.equal(bad.success, false);
  assert.match(JSON.stringify(bad.error?.issues), /unknown metric \\"p95\\"/);
});

test('latency buckets and quantiles come from the fixed histogram', () => {
  assert.equal(latencyBucket(0.3), 0);
  assert.equal(latencyBucket(1), 0);
  assert.equal(latencyBucket(1.01), 1);
  assert.equal(latencyBucket(60_000), LATENCY_BUCKET_COUNT - 1);
  const c = emptyCounters();
  assert.equal(latencyQuantile(c, 0.95), undefined);
  // 90 fast (≤ 2 ms), 10 slow (≤ 100 ms): p50 is 2, p95 is 100.
  c.latency[1] = 90;
  c.latency[6] = 10;
  c.requests = 100;
  assert.equal(latencyQuantile(c, 0.5), 2);
  assert.equal(latencyQuantile(c, 0.9), 2);
  assert.equal(latencyQuantile(c, 0.95), 100);
  c.latency[LATENCY_BUCKET_COUNT - 1] = 100;
  assert.equal(latencyQuantile(c, 0.95), Number.POSITIVE_INFINITY);
});

test('judging: evidence gates hold the verdict, health gates fail only with enough evidence', () => {
  const gates = ['requests>=100', 'error_rate<0.01', 'p95_ms<50'].map(parseGate);
  const c = emptyCounters();
  // No data: wait (nothing pending ever fails).
  assert.equal(judgeGates(gates, c).verdict, 'wait');
  // 10 requests, all errors, but below the evidence: still wait.
  addCounters(c, { requests: 10, errors: 10, latency: [10, ...new Array(12).fill(0)] });
  assert.equal(judgeGates(gates, c).verdict, 'wait');
  // Enough evidence and an error rate of 10%: fail, naming the gate and its value.
  addCounters(c, { requests: 90, latency: [90, ...new Array(12).fill(0)] });
  const failing = judgeGates(gates, c);
  assert.equal(failing.verdict, 'fail');
  assert.equal(failing.failed?.gate, 'error_rate<0.01');
  assert.equal(failing.failed?.value, 0.1);
  // A clean version passes all three.
  const ok = addCounters(emptyCounters(), { requests: 200, latency: [200, ...new Array(12).fill(0)] });
  const pass = judgeGates(gates, ok);
  assert.equal(pass.verdict, 'pass');
  assert.deepEqual(
    pass.results.map((r) => [r.gate, r.status, r.value]),
    [
      ['requests>=100', 'pass', 200],
      ['error_rate<0.01', 'pass', 0],
      ['p95_ms<50', 'pass', 1],
    ],
  );
  // Without an evidence gate a health gate fails on the first bad data.
  assert.equal(
    judgeGates([parseGate('error_rate<0.01')], addCounters(emptyCounters(), { requests: 1, errors: 1 }))
      .verdict,
    'fail',
  );
  // Agreement and confidence.
  const shadow = addCounters(emptyCounters(), {
    compared: 100,
    agreed: 97,
    confidenceSum: 45,
    confidenceCount: 50,
  });
  assert.equal(
    judgeGates([parseGate('agreement>0.95'), parseGate('confidence>=0.9')], shadow).verdict,
    'pass',
  );
  assert.equal(judgeGates([parseGate('agreement>0.98')], shadow).failed?.value, 0.97);
});

test('cohort positions are stable, uniform enough and depend on the rollout', () => {
  const a = cohortPosition('r1', 'dev-1');
  assert.equal(cohortPosition('r1', 'dev-1'), a);
  assert.notEqual(cohortPosition('r2', 'dev-1'), a);
  const positions = Array.from({ length: 2000 }, (_, i) => cohortPosition('r1', `dev-${i}`));
  assert.ok(positions.every((p) => p >= 0 && p < 1));
  const below10 = positions.filter((p) => p < 0.1).length;
  assert.ok(below10 > 120 && below10 < 280, `${below10} of 2000 below 0.1`);
});

test('selectors and durations', () => {
  const sel = parseSelector('tag=edge, profile=raspberry-pi-4');
  assert.deepEqual(sel, { tag: 'edge', profile: 'raspberry-pi-4' });
  assert.ok(matchesSelector(sel, { id: 'a', labels: { tag: 'edge' }, profile: 'raspberry-pi-4' }));
  assert.ok(!matchesSelector(sel, { id: 'a', labels: { tag: 'edge' }, profile: 'x86-64-cuda' }));
  assert.ok(matchesSelector(parseSelector('id=a'), { id: 'a', labels: {} }));
  assert.ok(matchesSelector({}, { id: 'a', labels: {} }));
  assert.throws(() => parseSelector('tag'), /"tag" is not key=value/);
  assert.equal(parseDurationMs('10m'), 600_000);
  assert.equal(parseDurationMs('1.5s'), 1500);
  assert.equal(parseDurationMs('250'), 250);
  assert.equal(parseDurationMs('10 parsecs'), undefined);
  const r = RolloutRequestSchema.parse({ model: 'm', version: '2.0.0', bakeMs: '30s' });
  assert.equal(r.bakeMs, 30_000);
  assert.deepEqual(r.stages, [1, 10, 50, 100]);
  assert.equal(
    RolloutRequestSchema.safeParse({ model: 'm', version: '2.0.0', stages: [10, 5] }).success,
    false,
  );
  assert.equal(RolloutRequestSchema.safeParse({ model: 'm', version: '2.0.0', mode: 'ab' }).success, false);
  assert.equal(RolloutRequestSchema.safeParse({ model: 'm', version: '2.0.0', mode: 'blue' }).success, false);
});
