import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  addGaussianNoise,
  cryptoNormal,
  dpFedAvg,
  epsilonFromRdp,
  type ModelWeights,
  privacySpent,
  RdpAccountant,
  rdpSubsampledGaussian,
  seededNormal,
} from '../../federated/index.js';

// Central DP (clip + Gaussian noise) and the RDP accountant, against the
// reference values of Google's dp_accounting tests (rdp_privacy_accountant_test.py).

const rel = (a: number, b: number) => Math.abs(a - b) / Math.abs(b);

describe('RDP of the subsampled Gaussian', () => {
  it('matches dp_accounting at integer and fractional orders (q 0.01, σ 2.5, 50 steps; rtol 1e-4)', () => {
    const orders = [1.5, 2.5, 5, 50, 100];
    const expected = [6.70579741e-4, 1.0854871e-3, 2.18075656e-3, 2.38460375e-2, 1.67416308e2];
    orders.forEach((a, i) => {
      const got = 50 * rdpSubsampledGaussian(0.01, 2.5, a);
      assert.ok(rel(got, expected[i] as number) < 1e-4, `order ${a}: ${got} vs ${expected[i]}`);
    });
  });

  it('plain Gaussian (q = 1) is α/(2σ²); q = 0 costs nothing; σ = 0 is unbounded', () => {
    // biome-ignore lint/suspicious/noApproximativeNumericConstant: dp_accounting's own test values
    assert.equal(rdpSubsampledGaussian(1, 2.71828, 3.14159), 3.14159 / (2 * 2.71828 ** 2));
    assert.equal(rdpSubsampledGaussian(0, 1, 2), 0);
    assert.equal(rdpSubsampledGaussian(0.1, 0, 2), Number.POSITIVE_INFINITY);
  });

  it('converts to (ε, δ) as dp_accounting does (pure-DP case: ε 1.32783806176 at order 32)', () => {
    const orders = Array.from({ length: 31 }, (_, i) => i + 2);
    const r = epsilonFromRdp(
      orders,
      orders.map(() => 1.1),
      1e-5,
    );
    assert.ok(Math.abs(r.epsilon - 1.32783806176) < 1e-9, String(r.epsilon));
    assert.equal(r.order, 32);
  });

  it('a Gaussian with σ 4.530877117 is (1, 1e-6)-DP (dp_accounting, dense orders)', () => {
    const orders = Array.from({ length: 9000 }, (_, i) => 1.01 + i * 0.01);
    const r = privacySpent(1, 4.530877117, 1, 1e-6, orders);
    assert.ok(Math.abs(r.epsilon - 1) < 1e-3, String(r.epsilon));
  });

  it('DP-SGD-scale setting (q 0.01, σ 1.1, 10 000 steps, δ 1e-5) gives a single-digit ε that grows with steps and shrinks with σ', () => {
    const e = privacySpent(0.01, 1.1, 10_000, 1e-5).epsilon;
    assert.ok(e > 2 && e < 10, String(e));
    assert.ok(privacySpent(0.01, 1.1, 20_000, 1e-5).epsilon > e);
    assert.ok(privacySpent(0.01, 2, 10_000, 1e-5).epsilon < e);
  });

  it('the accountant composes, merges equal steps and round-trips through JSON', () => {
    const a = new RdpAccountant().step(0.1, 1.5, 10).step(0.1, 1.5, 5).step(0.2, 2);
    assert.deepEqual(a.toJSON(), {
      history: [
        { q: 0.1, noiseMultiplier: 1.5, steps: 15 },
        { q: 0.2, noiseMultiplier: 2, steps: 1 },
      ],
    });
    const b = RdpAccountant.fromJSON(JSON.parse(JSON.stringify(a)));
    assert.deepEqual(b.spent(1e-5), a.spent(1e-5));
    const sum = new RdpAccountant([3]).step(0.1, 1.5, 15).step(0.2, 2).rdp()[0] as number;
    assert.ok(rel(sum, 15 * rdpSubsampledGaussian(0.1, 1.5, 3) + rdpSubsampledGaussian(0.2, 2, 3)) < 1e-12);
    assert.throws(() => a.step(1.5, 1), /sampling rate q 1.5/);
    assert.throws(() => a.spent(0), /delta 0/);
  });
});

describe('Gaussian noise', () => {
  for (const [name, source] of [
    ['seeded', seededNormal(42)],
    ['crypto', cryptoNormal()],
  ] as const) {
    it(`${name}: mean ≈ 0, std ≈ requested, tails ≈ normal (200 000 samples)`, () => {
      const n = 200_000;
      const w: ModelWeights = [{ name: 'w', shape: [n], values: new Float32Array(n) }];
      addGaussianNoise(w, 3, source);
      const v = w[0]?.values as Float32Array;
      let sum = 0;
      let sq = 0;
      let beyond2 = 0;
      for (const x of v) {
        sum += x;
        sq += x * x;
        if (Math.abs(x) > 6) beyond2++;
      }
      const mean = sum / n;
      const std = Math.sqrt(sq / n - mean * mean);
      // Standard errors: mean 3/√n ≈ 0.0067, std ≈ 3/√(2n) ≈ 0.0047; bounds at ~6 SE.
      assert.ok(Math.abs(mean) < 0.04, `mean ${mean}`);
      assert.ok(Math.abs(std - 3) < 0.03, `std ${std}`);
      // P(|Z| > 2) = 0.0455
      assert.ok(Math.abs(beyond2 / n - 0.0455) < 0.003, `tail ${beyond2 / n}`);
    });
  }
  it('seeded noise is reproducible; crypto noise is not', () => {
    const a = seededNormal(7);
    const b = seededNormal(7);
    assert.deepEqual([a(), a(), a()], [b(), b(), b()]);
    const c = cryptoNormal();
    const d = cryptoNormal();
    assert.notDeepEqual([c(), c()], [d(), d()]);
  });
});

describe('dpFedAvg', () => {
  const global: ModelWeights = [{ name: 'w', shape: [4], values: new Float32Array(4) }];
  it('clips each update to S, sums with weight 1, adds noise of std z·S, divides by the denominator', () => {
    // Without noise: updates of norm 10 and 1, S = 2 → clipped to norm 2 and 1.
    const s = dpFedAvg({ clipNorm: 2, noiseMultiplier: 0, expectedClients: 4 }, seededNormal(1));
    const round = s.begin(global, { round: 1 });
    round.add({
      clientId: 'a',
      delta: [{ name: 'w', shape: [4], values: Float32Array.of(10, 0, 0, 0) }],
      examples: 1000,
    });
    round.add({
      clientId: 'b',
      delta: [{ name: 'w', shape: [4], values: Float32Array.of(0, 1, 0, 0) }],
      examples: 1,
    });
    assert.deepEqual([...(round.finish().weights[0]?.values ?? [])], [0.5, 0.25, 0, 0]);
    // With noise: the empirical std of the result over many coordinates is z·S/denominator.
    const n = 50_000;
    const big: ModelWeights = [{ name: 'w', shape: [n], values: new Float32Array(n) }];
    const noisy = dpFedAvg({ clipNorm: 2, noiseMultiplier: 1.5 }, seededNormal(3)).begin(big, { round: 1 });
    for (let i = 0; i < 5; i++)
      noisy.add({
        clientId: `c${i}`,
        delta: [{ name: 'w', shape: [n], values: new Float32Array(n) }],
        examples: 1,
      });
    const out = noisy.finish().weights[0]?.values as Float32Array;
    const std = Math.sqrt(out.reduce((a, x) => a + x * x, 0) / n);
    assert.ok(Math.abs(std - (1.5 * 2) / 5) < 0.01, `std ${std}`);
  });
  it('still refuses a NaN update and bad parameters', () => {
    const round = dpFedAvg({ clipNorm: 1, noiseMultiplier: 1 }, seededNormal(1)).begin(global, { round: 1 });
    const v = round.add({
      clientId: 'x',
      delta: [{ name: 'w', shape: [4], values: Float32Array.of(Number.NaN, 0, 0, 0) }],
      examples: 1,
    });
    assert.equal(v.ok || v.reason, 'non-finite');
    assert.throws(() => round.finish(), /no update was accepted/);
    assert.throws(() => dpFedAvg({ clipNorm: -1, noiseMultiplier: 1 }), /clipNorm/);
  });
});
