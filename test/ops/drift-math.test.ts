/**
 * PSI, binned KS and binning against values computed by hand.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { quantileEdges } from '../../hub/drift/bins.js';
import { ksStatistic } from '../../hub/drift/ks.js';
import { PSI_EPSILON, psi } from '../../hub/drift/psi.js';
import { binIndex, histogram } from '../../shared/index.js';

const close = (a: number, b: number, eps = 1e-12) => assert.ok(Math.abs(a - b) < eps, `${a} ≠ ${b}`);

test('psi: identical histograms give 0, scale does not matter', () => {
  assert.equal(psi([10, 20, 30], [10, 20, 30]), 0);
  close(psi([1, 2, 3], [100, 200, 300]), 0);
});

test('psi: two bins, by hand', () => {
  // e = (0.5, 0.5), a = (0.8, 0.2):
  // (0.8-0.5)·ln(0.8/0.5) + (0.2-0.5)·ln(0.2/0.5) = 0.3·ln 1.6 + 0.3·ln 2.5 = 0.3·ln 4
  close(psi([50, 50], [80, 20]), 0.3 * Math.log(4));
  // three bins: e = (0.25, 0.5, 0.25), a = (0.5, 0.25, 0.25):
  // 0.25·ln 2 + (−0.25)·ln 0.5 + 0 = 0.5·ln 2
  close(psi([1, 2, 1], [2, 1, 1]), 0.5 * Math.log(2));
});

test('psi: an empty bin is floored at epsilon, not infinite', () => {
  // e = (1, 0), a = (0.5, 0.5): (0.5−1)·ln 0.5 + (0.5−ε)·ln(0.5/ε)
  const expected = -0.5 * Math.log(0.5) + (0.5 - PSI_EPSILON) * Math.log(0.5 / PSI_EPSILON);
  close(psi([10, 0], [5, 5]), expected);
  assert.ok(Number.isFinite(expected));
});

test('psi and ks refuse mismatched or empty histograms', () => {
  assert.throws(() => psi([1, 2], [1, 2, 3]), /2 expected bins vs 3/);
  assert.throws(() => psi([0, 0], [1, 1]), /expected: histogram has no counts/);
  assert.throws(() => ksStatistic([1, 1], [0, 0]), /actual: histogram has no counts/);
  assert.throws(() => psi([1, -1], [1, 1]), /non-negative/);
});

test('ks: largest CDF gap at the bin boundaries, by hand', () => {
  assert.equal(ksStatistic([5, 5], [5, 5]), 0);
  // e CDF (0.25, 0.75, 1), a CDF (0.5, 0.75, 1): gap 0.25 at the first boundary.
  close(ksStatistic([1, 2, 1], [2, 1, 1]), 0.25);
  // Disjoint: e all in bin 0, a all in bin 2: CDF gap 1.
  close(ksStatistic([4, 0, 0], [0, 0, 4]), 1);
  // e (0.1, 0.2, 0.3, 0.4) CDF 0.1 0.3 0.6 1; a (0.4, 0.3, 0.2, 0.1) CDF 0.4 0.7 0.9 1: max 0.4.
  close(ksStatistic([1, 2, 3, 4], [4, 3, 2, 1]), 0.4, 1e-12);
});

test('bins: (-inf, e0], (e0, e1], …, (e_last, +inf); NaN last', () => {
  const edges = [0, 1, 2];
  assert.deepEqual(
    [-5, 0, 0.5, 1, 1.5, 2, 99, Number.NaN].map((v) => binIndex(edges, v)),
    [0, 0, 1, 1, 2, 2, 3, 3],
  );
  assert.deepEqual(histogram(edges, [-1, 0.2, 0.3, 5]), [1, 2, 0, 1]);
});

test('quantileEdges: deciles of 1..100, duplicates removed, constant feature', () => {
  const values = Array.from({ length: 100 }, (_, i) => i + 1);
  assert.deepEqual(quantileEdges(values, 10), [11, 21, 31, 41, 51, 61, 71, 81, 91]);
  assert.deepEqual(histogram(quantileEdges(values, 4), values), [26, 25, 25, 24]);
  assert.deepEqual(quantileEdges([3, 3, 3, 3], 5), [3]);
  assert.deepEqual(quantileEdges([0, 0, 0, 1], 4), [0, 1]);
  assert.throws(() => quantileEdges([], 4), /empty sample/);
  assert.throws(() => quantileEdges([1], 1), /bins must be/);
});
