import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  type ClientUpdate,
  createStrategy,
  decodeServerState,
  encodeServerState,
  type ModelWeights,
  type ServerState,
} from '../../federated/index.js';

// Every strategy against results computed by hand, robust rules against
// poisoned updates, validation before any math, and FedAdam/FedYogi's state across rounds.

const w = (a: number[], b: number[]): ModelWeights => [
  { name: 'w', shape: [a.length], values: Float32Array.from(a) },
  { name: 'b', shape: [b.length], values: Float32Array.from(b) },
];
const upd = (clientId: string, a: number[], b: number[], examples = 1, staleness?: number): ClientUpdate => ({
  clientId,
  delta: w(a, b),
  examples,
  ...(staleness === undefined ? {} : { staleness }),
});
const values = (m: ModelWeights) => m.map((t) => [...t.values]);
const close = (actual: number[][], expected: number[][], tol = 1e-6) => {
  actual.forEach((row, i) => {
    row.forEach((v, k) => {
      const e = (expected[i] as number[])[k] as number;
      assert.ok(Math.abs(v - e) <= tol, `[${i}][${k}] = ${v}, expected ${e}`);
    });
  });
};
const global = w([1, 1], [0]);

function run(name: string, updates: ClientUpdate[], params: unknown = {}, state?: ServerState | null) {
  const round = createStrategy(name, params).begin(global, { round: 1, state: state ?? null, maxNorm: 1e6 });
  const verdicts = updates.map((u) => round.add(u));
  return { verdicts, ...round.finish() };
}

describe('FedAvg family', () => {
  it('fedavg: example-weighted mean of deltas added to the global model', () => {
    const r = run('fedavg', [upd('a', [1, 2], [3], 1), upd('b', [3, 0], [-1], 3)]);
    // mean = (1·[1,2] + 3·[3,0]) / 4 = [2.5, 0.5]; b: (3 − 3)/4 = 0
    close(values(r.weights), [[3.5, 1.5], [0]]);
    assert.deepEqual(r.accepted, ['a', 'b']);
    assert.equal(r.state, null);
  });

  it('fedavg: staleness discounts by 1/sqrt(1+s) (FedBuff)', () => {
    const r = run('fedavg', [upd('a', [1, 2], [3], 1), upd('b', [3, 0], [-1], 3, 3)]);
    // b's weight 3 · 1/2 = 1.5: mean = ([1,2] + 1.5·[3,0]) / 2.5 = [2.2, 0.8]; b: (3 − 1.5)/2.5 = 0.6
    close(values(r.weights), [[3.2, 1.8], [0.6]]);
  });

  it('fedavg: serverLr scales the step', () => {
    const r = run('fedavg', [upd('a', [2, 4], [2])], { serverLr: 0.5 });
    close(values(r.weights), [[2, 3], [1]]);
  });

  it('fedprox: same server rule, hands clients mu', () => {
    const s = createStrategy('fedprox', { mu: 0.1 });
    assert.deepEqual(s.clientConfig(), { proxMu: 0.1 });
    const r = run('fedprox', [upd('a', [1, 2], [3], 1), upd('b', [3, 0], [-1], 3)], { mu: 0.1 });
    close(values(r.weights), [[3.5, 1.5], [0]]);
  });

  it('fedadam and fedyogi: two rounds by hand, state serialised in between', () => {
    const tau = 1e-3;
    const eta = 0.01;
    for (const name of ['fedadam', 'fedyogi']) {
      const r1 = run(name, [upd('a', [2, 0.5], [0])], { serverLr: eta, tau });
      // Round 1: Δ = [2, 0.5]; m = 0.1·Δ; v = 0.99·τ² + 0.01·Δ² (Adam) or τ² + 0.01·Δ² (Yogi: v < Δ²)
      const v1 = (d: number) => (name === 'fedadam' ? 0.99 * tau * tau : tau * tau) + 0.01 * d * d;
      const x1 = (x: number, d: number) => x + (eta * 0.1 * d) / (Math.sqrt(v1(d)) + tau);
      close(values(r1.weights), [[x1(1, 2), x1(1, 0.5)], [0]], 1e-6);
      assert.ok(r1.state);
      assert.equal(r1.state.step, 1);
      const restored = decodeServerState(encodeServerState(r1.state), global);
      // Round 2 from the restored state with Δ = [−1, 0.5]: m = 0.9·m1 + 0.1·Δ
      const round = createStrategy(name, { serverLr: eta, tau }).begin(r1.weights, {
        round: 2,
        state: restored,
      });
      round.add(upd('a', [-1, 0.5], [0]));
      const r2 = round.finish();
      const step2 = (d1: number, d2: number) => {
        const m = 0.9 * 0.1 * d1 + 0.1 * d2;
        const v =
          name === 'fedadam'
            ? 0.99 * v1(d1) + 0.01 * d2 * d2
            : v1(d1) - 0.01 * d2 * d2 * Math.sign(v1(d1) - d2 * d2);
        return (eta * m) / (Math.sqrt(v) + tau);
      };
      close(values(r2.weights), [[x1(1, 2) + step2(2, -1), x1(1, 0.5) + step2(0.5, 0.5)], [0]], 1e-6);
      assert.equal(r2.state?.step, 2);
    }
  });
});

describe('robust strategies', () => {
  const honest = [
    upd('h1', [1, 1], [0.1]),
    upd('h2', [1.2, 0.8], [0.2]),
    upd('h3', [0.8, 1.1], [0]),
    upd('h4', [1.1, 0.9], [0.1]),
  ];
  const poisoned = upd('evil', [-100, -100], [-100], 1000);

  it('fedmedian: coordinate-wise median, odd and even', () => {
    close(
      values(
        run('fedmedian', [upd('a', [1, 5], [0]), upd('b', [2, 6], [1]), upd('c', [100, -3], [2])]).weights,
      ),
      [[3, 6], [1]],
    );
    close(
      values(
        run('fedmedian', [
          upd('a', [1, 0], [0]),
          upd('b', [2, 0], [0]),
          upd('c', [3, 0], [0]),
          upd('d', [100, 0], [0]),
        ]).weights,
      ),
      [[3.5, 1], [0]],
    );
  });

  it('trimmed-mean: drops floor(beta·n) each side', () => {
    const us = [1, 2, 3, 4, 1000].map((v, i) => upd(`c${i}`, [v, 0], [-v]));
    // beta 0.2, n 5: cut 1 each side → mean(2, 3, 4) = 3
    close(values(run('trimmed-mean', us, { beta: 0.2 }).weights), [[4, 1], [-3]]);
  });

  for (const name of ['fedmedian', 'trimmed-mean']) {
    it(`${name}: a scaled poisoned update stays within the honest range`, () => {
      const r = run(name, [...honest, poisoned], name === 'trimmed-mean' ? { beta: 0.2 } : {});
      const delta = values(r.weights).map((row, i) =>
        row.map((v, k) => v - ((values(global)[i] as number[])[k] as number)),
      );
      delta.forEach((row, i) => {
        row.forEach((v, k) => {
          const hv = honest.map((h) => h.delta[i]?.values[k] as number);
          assert.ok(
            v >= Math.min(...hv) - 1e-6 && v <= Math.max(...hv) + 1e-6,
            `${name} coordinate [${i}][${k}] = ${v}`,
          );
        });
      });
      // FedAvg, for contrast, is dragged far away by the same update.
      const avg = run('fedavg', [...honest, poisoned]);
      assert.ok((avg.weights[0]?.values[0] as number) < -50);
    });
  }

  it('krum: picks an honest update and discards the outlier with its score', () => {
    const r = run('krum', [...honest, poisoned], { byzantine: 1 });
    assert.equal(r.accepted.length, 1);
    assert.ok(r.accepted[0]?.startsWith('h'));
    const evil = r.rejected.find((x) => x.clientId === 'evil');
    assert.equal(evil?.reason, 'robust-rule');
    assert.match(evil?.detail ?? '', /krum score/);
    // Krum returns exactly the chosen update: h1 or h4 sit in the middle of the honest cluster.
    const chosen = honest.find((h) => h.clientId === r.accepted[0]) as ClientUpdate;
    close(
      values(r.weights),
      values(chosen.delta).map((row, i) =>
        row.map((v, k) => v + ((values(global)[i] as number[])[k] as number)),
      ),
    );
  });

  it('krum: too few updates for f is an error naming the requirement', () => {
    assert.throws(() => run('krum', honest.slice(0, 3), { byzantine: 1 }), /needs 5/);
  });
});

describe('validation before any math', () => {
  it('refuses NaN, wrong shape, huge norm, duplicates and bad example counts, each with its reason', () => {
    const round = createStrategy('fedavg').begin(global, { round: 1, maxNorm: 10 });
    assert.deepEqual(round.add(upd('ok', [1, 1], [1])), { ok: true });
    const nan = round.add(upd('nan', [Number.NaN, 1], [1]));
    assert.equal(nan.ok || nan.reason, 'non-finite');
    const inf = round.add(upd('inf', [1, Number.POSITIVE_INFINITY], [1]));
    assert.equal(inf.ok || inf.reason, 'non-finite');
    const shape = round.add(upd('shape', [1, 1, 1], [1]));
    assert.equal(shape.ok || shape.reason, 'shape');
    assert.match(shape.ok ? '' : shape.detail, /w has shape \[3\], expected \[2\]/);
    const renamed = round.add({ clientId: 'renamed', examples: 1, delta: [w([1, 1], [1])[0] as never] });
    assert.equal(renamed.ok || renamed.reason, 'shape');
    const norm = round.add(upd('norm', [100, 100], [1]));
    assert.equal(norm.ok || norm.reason, 'norm');
    assert.match(norm.ok ? '' : norm.detail, /exceeds the bound 10/);
    const dup = round.add(upd('ok', [1, 1], [1]));
    assert.equal(dup.ok || dup.reason, 'duplicate');
    const ex = round.add(upd('zero', [1, 1], [1], 0));
    assert.equal(ex.ok || ex.reason, 'examples');
    const stale = round.add(upd('stale', [1, 1], [1], 1, -1));
    assert.equal(stale.ok || stale.reason, 'staleness');
    const r = round.finish();
    assert.deepEqual(r.accepted, ['ok']);
    assert.deepEqual(
      r.rejected.map((x) => `${x.clientId}:${x.reason}`),
      [
        'nan:non-finite',
        'inf:non-finite',
        'shape:shape',
        'renamed:shape',
        'norm:norm',
        'ok:duplicate',
        'zero:examples',
        'stale:staleness',
      ],
    );
    close(values(r.weights), [[2, 2], [1]]);
  });

  it('every strategy refuses a poisoned NaN update and still aggregates the rest', () => {
    for (const name of ['fedavg', 'fedprox', 'fedadam', 'fedyogi', 'fedmedian', 'trimmed-mean', 'krum']) {
      const round = createStrategy(name, name === 'krum' ? { byzantine: 0 } : {}).begin(global, { round: 1 });
      for (let i = 0; i < 3; i++) round.add(upd(`h${i}`, [0.1, 0.1], [0]));
      assert.equal(round.add(upd('nan', [Number.NaN, 0], [0])).ok, false, name);
      const r = round.finish();
      assert.equal(r.rejected.filter((x) => x.reason === 'non-finite').length, 1, name);
      assert.ok(
        r.weights.every((t) => t.values.every(Number.isFinite)),
        name,
      );
    }
  });

  it('finish with nothing accepted, unknown names and bad params are clear errors', () => {
    const round = createStrategy('fedavg').begin(global, { round: 1 });
    round.add(upd('nan', [Number.NaN, 0], [0]));
    assert.throws(() => round.finish(), /no update was accepted \(1 refused\)/);
    assert.throws(() => round.finish(), /finish\(\) was already called/);
    assert.throws(() => round.add(upd('late', [0, 0], [0])), /has finished/);
    assert.throws(() => createStrategy('fedsgd'), /unknown strategy "fedsgd"; one of fedavg/);
    assert.throws(() => createStrategy('trimmed-mean', { beta: 0.7 }), /beta/);
    assert.throws(() => createStrategy('fedavg', { lr: 1 }), /fedavg parameters/);
    assert.throws(
      () =>
        createStrategy('fedadam').begin(global, {
          round: 2,
          state: { kind: 'adaptive', step: 1, m: w([0], [0]), v: w([0], [0]) },
        }),
      /server state does not match/,
    );
  });
});
