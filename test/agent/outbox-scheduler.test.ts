import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { WeightedRoundRobin } from '../../agent/outbox/scheduler.js';
import { LANES, type Lane } from '../../shared/index.js';

// Priority that cannot starve the lower lanes — weighted round robin over the
// lanes that have something to send.

const WEIGHTS = { control: 8, results: 4, telemetry: 2, learning: 1 } as const;
const picks = (rr: WeightedRoundRobin, eligible: readonly Lane[], n: number) =>
  Array.from({ length: n }, () => rr.pick(eligible));
const tally = (lanes: Array<Lane | undefined>) =>
  Object.fromEntries(LANES.map((l) => [l, lanes.filter((x) => x === l).length]));

describe('weighted round robin', () => {
  it('gives each busy lane exactly its weight in every run of Σ weights picks', () => {
    const rr = new WeightedRoundRobin(WEIGHTS);
    for (let round = 0; round < 20; round++) {
      assert.deepEqual(tally(picks(rr, LANES, 15)), WEIGHTS, `round ${round}`);
    }
  });

  it('interleaves the lanes instead of serving one in a burst', () => {
    const rr = new WeightedRoundRobin(WEIGHTS);
    const seq = picks(rr, LANES, 15);
    assert.equal(seq[0], 'control', 'the heaviest lane goes first');
    let longestRun = 0;
    let run = 0;
    for (let i = 0; i < seq.length; i++) {
      run = i > 0 && seq[i] === seq[i - 1] ? run + 1 : 1;
      longestRun = Math.max(longestRun, run);
    }
    assert.ok(longestRun <= 2, `control never takes more than two turns in a row (${seq.join(' ')})`);
  });

  it('never starves the lightest lane, whatever the other backlogs', () => {
    const rr = new WeightedRoundRobin({ control: 1000, results: 1000, telemetry: 1000, learning: 1 });
    const seq = picks(rr, LANES, 3001);
    assert.equal(tally(seq).learning, 1, 'learning gets its one turn in every 3001');
  });

  it('serves only eligible lanes, and an idle lane banks no credit', () => {
    const rr = new WeightedRoundRobin(WEIGHTS);
    assert.equal(rr.pick([]), undefined);
    assert.deepEqual(picks(rr, ['learning'], 5), Array(5).fill('learning'));
    // telemetry was idle for those picks: it does not get a burst of saved-up turns now.
    assert.deepEqual(tally(picks(rr, ['telemetry', 'learning'], 3)), {
      control: 0,
      results: 0,
      telemetry: 2,
      learning: 1,
    });
  });

  it('refuses a weight below 1', () => {
    assert.throws(() => new WeightedRoundRobin({ ...WEIGHTS, results: 0 }), /weight of lane results/);
  });
});
