import assert from 'node:assert/strict';
import { test } from 'node:test';
import { answersAgree, rowConfidence } from '../../agent/metrics/confidence.js';
import { ModelMetrics } from '../../agent/metrics/model-metrics.js';
import { LATENCY_BUCKET_COUNT, ModelTelemetrySchema } from '../../shared/index.js';
import { f32 } from '../helpers/models.js';

test('confidence: a probability row gives its max, a logit row its max softmax', () => {
  assert.equal(rowConfidence(Float32Array.from([0.1, 0.7, 0.2]), 0, 3), Float32Array.from([0.7])[0]);
  const logits = Float32Array.from([2, 0, 0]);
  const expected = Math.exp(2) / (Math.exp(2) + 2);
  assert.ok(Math.abs(rowConfidence(logits, 0, 3) - expected) < 1e-9);
  // Values in [0, 1] that do not sum to 1 are logits too.
  assert.ok(Math.abs(rowConfidence(Float32Array.from([0.5, 0.5, 0.5]), 0, 3) - 1 / 3) < 1e-9);
});

test('agreement: same top class per row, or every float within tolerance', () => {
  const a = { logits: f32([2, 3], [3, 1, 0, 0, 1, 5]) };
  assert.ok(answersAgree(a, { logits: f32([2, 3], [2, 1, 1, 0, 2, 9]) }));
  assert.ok(!answersAgree(a, { logits: f32([2, 3], [3, 1, 0, 6, 1, 5]) }));
  assert.ok(!answersAgree(a, { scores: f32([2, 3], [3, 1, 0, 0, 1, 5]) }));
  const reg = { y: f32([2, 1], [1, 100]) };
  assert.ok(answersAgree(reg, { y: f32([2, 1], [1.0005, 100.5]) }));
  assert.ok(!answersAgree(reg, { y: f32([2, 1], [1.05, 100]) }));
});

test('the collector counts requests, errors, histogram, confidence and comparisons per version and role', () => {
  let now = 1000;
  const m = new ModelMetrics(() => now);
  const probs = f32([2, 2], [0.9, 0.1, 0.3, 0.7]);
  m.record({ model: 'clf', version: '1.0.0', role: 'active', latencyMs: 0.5, outputs: { probs } });
  m.record({ model: 'clf', version: '1.0.0', role: 'active', latencyMs: 30, outputs: undefined });
  m.record({ model: 'clf', version: '2.0.0', role: 'shadow', latencyMs: 7000, outputs: { probs } });
  m.recordComparison('clf', '2.0.0', true);
  m.recordComparison('clf', '2.0.0', false);
  now = 5000;
  const body = m.drain();
  assert.ok(body);
  ModelTelemetrySchema.parse(body);
  assert.equal(body.from, 1000);
  assert.equal(body.to, 5000);
  const v1 = body.models.find((r) => r.version === '1.0.0');
  assert.equal(v1?.requests, 2);
  assert.equal(v1?.errors, 1);
  assert.equal(v1?.latency[0], 1);
  assert.equal(v1?.latency[5], 1);
  assert.equal(v1?.latency.length, LATENCY_BUCKET_COUNT);
  assert.equal(v1?.confidenceCount, 2);
  assert.ok(Math.abs((v1?.confidenceSum ?? 0) - 1.6) < 1e-6);
  assert.equal(v1?.compared, undefined);
  const v2 = body.models.find((r) => r.version === '2.0.0');
  assert.equal(v2?.role, 'shadow');
  assert.equal(v2?.latency[LATENCY_BUCKET_COUNT - 1], 1);
  assert.deepEqual([v2?.compared, v2?.agreed], [2, 1]);
  // A new window starts empty; a restored body comes back whole.
  assert.equal(m.drain(), undefined);
  m.restore(body);
  const again = m.drain();
  assert.deepEqual(
    again?.models.map((r) => [r.version, r.requests]),
    body.models.map((r) => [r.version, r.requests]),
  );
});
