import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ACK_BACKOFF_MAX_FACTOR, ACK_JITTER, ackWaitMs } from '../../agent/outbox/ack-backoff.js';

// The wait for an ack: the base doubled per consecutive timeout, capped, jittered. A fixed
// random source of 0.5 is the jitter's midpoint (factor 1).

const mid = () => 0.5;

describe('ack timeout backoff', () => {
  it('doubles per consecutive timeout from the base, capped at 8 × the base', () => {
    assert.equal(ACK_BACKOFF_MAX_FACTOR, 8);
    assert.deepEqual(
      [0, 1, 2, 3, 4, 5, 6].map((n) => ackWaitMs(n, 10_000, mid)),
      [10_000, 20_000, 40_000, 80_000, 80_000, 80_000, 80_000],
    );
  });

  it('never overflows for huge counts, and treats a negative count as 0', () => {
    assert.equal(ackWaitMs(1e9, 100, mid), 800);
    assert.equal(ackWaitMs(5000, 100, mid), 800);
    assert.equal(ackWaitMs(-2, 100, mid), 100);
  });

  it('spreads the wait over [0.8, 1.2] × its ceiling', () => {
    assert.equal(ACK_JITTER, 0.2);
    assert.equal(
      ackWaitMs(0, 10_000, () => 0),
      8000,
    );
    assert.equal(
      ackWaitMs(0, 10_000, () => 0.25),
      9000,
    );
    assert.equal(
      ackWaitMs(0, 10_000, () => 0.999_999),
      12_000,
    );
    assert.equal(
      ackWaitMs(3, 10_000, () => 0),
      64_000,
    );
    assert.equal(
      ackWaitMs(9, 10_000, () => 0.999_999),
      96_000,
    );
  });

  it('stays within its bounds with the real random source, and uses the whole range', () => {
    for (let n = 0; n < 6; n++) {
      const ceiling = 1000 * 2 ** Math.min(n, 3);
      const waits = Array.from({ length: 1000 }, () => ackWaitMs(n, 1000));
      for (const w of waits) {
        assert.ok(
          Number.isInteger(w) && w >= 0.8 * ceiling && w <= 1.2 * ceiling,
          `${w} in ±20 % of ${ceiling}`,
        );
      }
      // 1000 uniform draws all above 0.85 (or all below 1.15) × ceiling: probability 0.875^1000.
      assert.ok(Math.min(...waits) < 0.85 * ceiling && Math.max(...waits) > 1.15 * ceiling, 'jittered');
    }
  });
});
