import assert from 'node:assert/strict';
import { test } from 'node:test';
import { accumulateConfidence } from '../../agent/metrics/confidence.js';
import { MAX_OBSERVED_ROWS, observedStride } from '../../agent/metrics/observed-rows.js';
import { DriftSummarizer } from '../../agent/telemetry/drift-summarizer.js';
import { f32 } from '../helpers/models.js';

/** A batch of `rows` rows of 4 class probabilities whose top class is `row % 4`, top value by row. */
function probabilities(rows: number) {
  const data: number[] = [];
  for (let r = 0; r < rows; r++) {
    const top = 0.4 + (r % 7) * 0.05;
    const rest = (1 - top) / 3;
    for (let c = 0; c < 4; c++) data.push(c === r % 4 ? top : rest);
  }
  return f32([rows, 4], data);
}

test('observers read every row of a small batch and an even sample of at most 32 rows of a large one', () => {
  assert.equal(observedStride(1), 1);
  assert.equal(observedStride(MAX_OBSERVED_ROWS), 1);
  assert.equal(observedStride(MAX_OBSERVED_ROWS + 1), 2);
  assert.equal(observedStride(192), 6);
  const drift = new DriftSummarizer(() => 0);
  const confidence = { sum: 0, count: 0 };
  const x = f32([192, 3], new Array(192 * 3).fill(0.5));
  drift.record('m', '1', { x }, { probs: probabilities(192) }, undefined);
  accumulateConfidence({ probs: probabilities(192) }, confidence, 0);
  const window = drift.drain()?.models[0];
  assert.equal(window?.rows, 192, 'rows counts every row served');
  assert.equal(
    window?.classes.reduce((a, b) => a + b, 0),
    32,
    'the class histogram counts the observed rows',
  );
  assert.equal(confidence.count, 32);
  const small = new DriftSummarizer(() => 0);
  small.record('m', '1', { x: f32([20, 3], new Array(60).fill(0)) }, { probs: probabilities(20) }, undefined);
  assert.equal(
    small.drain()?.models[0]?.classes.reduce((a, b) => a + b, 0),
    20,
  );
});

test('over one stride of calls the rotating sample reads every row of a batch exactly once', () => {
  const rows = 192;
  const stride = observedStride(rows);
  const batch = probabilities(rows);
  const x = f32([rows, 3], new Array(rows * 3).fill(0.5));
  const edges = { elements: [0], edges: [[0.25, 0.75]], classes: 4 };
  const drift = new DriftSummarizer(() => 0);
  const sampled = { sum: 0, count: 0 };
  for (let turn = 0; turn < stride; turn++) {
    drift.record('m', '1', { x }, { probs: batch }, edges);
    accumulateConfidence({ probs: batch }, sampled, turn);
  }
  const window = drift.drain()?.models[0];
  // Every row once: the same histogram and mean as reading the whole batch once.
  assert.deepEqual(window?.classes, [48, 48, 48, 48]);
  assert.deepEqual(window?.features, [[0, rows, 0]]);
  let sum = 0;
  for (let r = 0; r < rows; r++) sum += Math.fround(0.4 + (r % 7) * 0.05);
  assert.equal(sampled.count, rows);
  assert.ok(Math.abs(sampled.sum - sum) < 1e-4, `${sampled.sum} against ${sum}`);
});
