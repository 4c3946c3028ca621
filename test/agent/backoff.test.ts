import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { backoffCeilingMs, backoffDelayMs } from '../../agent/link/backoff.js';

describe('reconnect backoff (full jitter)', () => {
  it('doubles the ceiling per attempt from min, capped at max', () => {
    assert.deepEqual(
      [0, 1, 2, 3, 4, 5, 6, 7].map((a) => backoffCeilingMs(a, 500, 30_000)),
      [500, 1000, 2000, 4000, 8000, 16_000, 30_000, 30_000],
    );
  });

  it('never overflows for huge attempt counts', () => {
    assert.equal(backoffCeilingMs(5000, 500, 30_000), 30_000);
    assert.equal(
      backoffDelayMs(1e9, 500, 30_000, () => 0.5),
      15_000,
    );
  });

  it('spreads the delay uniformly over [0, ceiling)', () => {
    assert.equal(
      backoffDelayMs(3, 100, 10_000, () => 0),
      0,
    );
    assert.equal(
      backoffDelayMs(3, 100, 10_000, () => 0.25),
      200,
    );
    assert.equal(
      backoffDelayMs(3, 100, 10_000, () => 0.999_999),
      799,
    );
  });

  it('stays within bounds with the real random source', () => {
    for (let attempt = 0; attempt < 20; attempt++) {
      const ceiling = backoffCeilingMs(attempt, 50, 5000);
      for (let i = 0; i < 100; i++) {
        const delay = backoffDelayMs(attempt, 50, 5000);
        assert.ok(Number.isInteger(delay) && delay >= 0 && delay < ceiling, `${delay} in [0, ${ceiling})`);
      }
    }
  });

  it('treats a cap below the minimum as the cap, and negative attempts as 0', () => {
    assert.equal(backoffCeilingMs(0, 500, 100), 100);
    assert.equal(backoffCeilingMs(-3, 500, 30_000), 500);
  });
});
