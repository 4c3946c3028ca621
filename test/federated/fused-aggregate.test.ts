import assert from 'node:assert/strict';
import { it } from 'node:test';
import {
  type ClientUpdate,
  createStrategy,
  type ModelWeights,
  mulberry32,
  validateUpdate,
} from '../../federated/index.js';

// FedAvg validates and accumulates in one pass over each update (into a pending buffer that
// only becomes the sum once the update is accepted). A refused update must leave no trace:
// the result is bit-for-bit the one computed without it, and equals a plain two-pass
// reference (validate, then accumulate in float32) in the same order.

const SHAPES = [
  { name: 'k', shape: [7, 3] }, // 21 values: not a multiple of the 4-wide unrolled loop
  { name: 'b', shape: [5] },
  { name: 'c', shape: [1] },
];

function delta(seed: number): ModelWeights {
  const random = mulberry32(seed);
  return SHAPES.map(({ name, shape }) => ({
    name,
    shape: [...shape],
    values: Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => random() - 0.5),
  }));
}

const global: ModelWeights = SHAPES.map(({ name, shape }) => ({
  name,
  shape: [...shape],
  values: new Float32Array(shape.reduce((a, b) => a * b, 1)).fill(0.25),
}));

function fedavg(updates: ClientUpdate[], maxNorm: number) {
  const round = createStrategy('fedavg').begin(global, { round: 1, maxNorm });
  const verdicts = updates.map((u) => round.add(u));
  return { verdicts, ...round.finish() };
}

/** Two passes, as the aggregation was written before it was fused. */
function reference(updates: ClientUpdate[], maxNorm: number): ModelWeights {
  const sum = SHAPES.map((s) => new Float32Array(s.shape.reduce((a, b) => a * b, 1)));
  let total = 0;
  for (const u of updates) {
    if (!validateUpdate(u.delta, SHAPES, { maxNorm }).ok) continue;
    const w = u.examples;
    u.delta.forEach((t, i) => {
      const acc = sum[i] as Float32Array;
      for (let k = 0; k < acc.length; k++) acc[k] = (acc[k] as number) + w * (t.values[k] as number);
    });
    total += w;
  }
  return global.map((g, i) => {
    const acc = sum[i] as Float32Array;
    for (let k = 0; k < acc.length; k++) acc[k] = (acc[k] as number) * (1 / total);
    const values = g.values.slice();
    for (let k = 0; k < values.length; k++) values[k] = (values[k] as number) + 1 * (acc[k] as number);
    return { name: g.name, shape: g.shape, values };
  });
}

it('a refused update leaves the fused sum exactly as if it had never been sent', () => {
  const honest = Array.from({ length: 6 }, (_, i) => ({
    clientId: `h${i}`,
    delta: delta(i + 1),
    examples: 3 + i,
  }));
  const nanLate = delta(100);
  (nanLate[2] as { values: Float32Array }).values[0] = Number.NaN; // last tensor: after the others were summed
  const huge = delta(101).map((t) => ({ ...t, values: t.values.map((x) => x * 1000) }));
  const wrongShape = [{ name: 'k', shape: [3, 7], values: new Float32Array(21) }, ...delta(102).slice(1)];
  const hostile: ClientUpdate[] = [
    { clientId: 'nan', delta: nanLate, examples: 50 },
    { clientId: 'huge', delta: huge, examples: 50 },
    { clientId: 'shape', delta: wrongShape, examples: 50 },
    { clientId: 'h0', delta: delta(103), examples: 50 }, // a duplicate of an accepted client
  ];
  const mixed = [
    ...honest.slice(0, 2),
    ...hostile.slice(0, 2),
    ...honest.slice(2, 4),
    hostile[2],
    hostile[3],
    ...honest.slice(4),
  ];
  const maxNorm = 10;
  const withHostile = fedavg(mixed as ClientUpdate[], maxNorm);
  const honestOnly = fedavg(honest, maxNorm);
  assert.deepEqual(
    withHostile.rejected.map((r) => `${r.clientId}:${r.reason}`),
    ['nan:non-finite', 'huge:norm', 'shape:shape', 'h0:duplicate'],
  );
  assert.deepEqual(
    withHostile.accepted,
    honest.map((u) => u.clientId),
  );
  const want = reference(honest, maxNorm);
  for (const [i, t] of withHostile.weights.entries()) {
    assert.deepEqual([...t.values], [...(honestOnly.weights[i] as { values: Float32Array }).values], t.name);
    assert.deepEqual(
      [...t.values],
      [...(want[i] as { values: Float32Array }).values],
      `${t.name} vs two passes`,
    );
  }
});

it('the norm bound is inclusive and measured over every tensor together', () => {
  // 3-4-0 split across two tensors: norm exactly 5.
  const at = (x: number): ModelWeights => [
    { name: 'k', shape: [7, 3], values: new Float32Array(21).fill(0).map((_, k) => (k === 20 ? x * 3 : 0)) },
    { name: 'b', shape: [5], values: Float32Array.from([0, 0, 0, 0, x * 4]) },
    { name: 'c', shape: [1], values: new Float32Array(1) },
  ];
  const r = fedavg(
    [
      { clientId: 'edge', delta: at(1), examples: 1 },
      { clientId: 'over', delta: at(1.001), examples: 1 },
    ],
    5,
  );
  assert.deepEqual(r.accepted, ['edge']);
  assert.deepEqual(
    r.rejected.map((x) => x.reason),
    ['norm'],
  );
  assert.equal(r.weights[1]?.values[4], 0.25 + 4);
});
