/** Pure parts of the dashboard: what it extracts from rollout events and round metrics, and the SVG. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { curveValues } from '../../hub/dashboard/federated-page.js';
import { esc } from '../../hub/dashboard/html.js';
import { gateValues } from '../../hub/dashboard/rollouts-page.js';
import { barChart, lineChart } from '../../hub/dashboard/svg.js';

test('gate values come from the driver results, pending ones (null) left out', () => {
  const detail = {
    results: [
      { gate: 'error_rate<0.05', metric: 'error_rate', kind: 'health', status: 'pass', value: 0.01 },
      { gate: 'p95_ms<50', metric: 'p95_ms', kind: 'health', status: 'pending', value: null },
    ],
  };
  assert.deepEqual(gateValues(detail), [{ name: 'error_rate', value: 0.01 }]);
  assert.deepEqual(gateValues({ device: 'x' }), []);
  assert.deepEqual(gateValues(null), []);
});

test('accuracy and loss curves are found by name in round metrics', () => {
  const metrics = {
    hubEval: { accuracy: 0.9, loss: 0.3, count: 100 },
    federatedEval: { accuracy: 0.88 },
    accepted: 3,
  };
  assert.deepEqual(curveValues(metrics), [
    { path: 'hubEval.accuracy', value: 0.9 },
    { path: 'hubEval.loss', value: 0.3 },
    { path: 'federatedEval.accuracy', value: 0.88 },
  ]);
});

test('charts: one path per series, labels escaped, empty data says so', () => {
  const svg = lineChart(
    [
      {
        label: '<psi>',
        color: '#000',
        points: [
          { x: 1, y: 0.1 },
          { x: 2, y: null },
          { x: 3, y: 0.3 },
        ],
      },
      { label: 'ks', color: '#111', points: [{ x: 1, y: 0.2 }] },
    ],
    { title: 'T & t', threshold: 0.2 },
  );
  assert.equal(svg.match(/<path /g)?.length, 2);
  assert.equal(svg.match(/<circle /g)?.length, 3);
  assert.ok(svg.includes('&lt;psi&gt;') && !svg.includes('<psi>'));
  assert.ok(svg.includes('aria-label="T &amp; t"'));
  assert.match(lineChart([], { title: 'x' }), /no data yet/);
  assert.equal(
    barChart(
      [
        { label: 'a', value: 0.5 },
        { label: 'b', value: 0.1 },
      ],
      { title: 'b', threshold: 0.2 },
    ).match(/fill="#d93025"/g)?.length,
    1,
  );
  assert.equal(esc(`"'<&>`), '&quot;&#39;&lt;&amp;&gt;');
});
