import assert from 'node:assert/strict';
import { it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { entryPoint } from '../helpers/paths.js';

// The CNN comparison's lr protocol and its wall-time estimate, without training: the bench's
// modules are loaded as the suite runs them (the bench project builds on this one, so they
// cannot be imported statically), and the runs are a table of rounds to the target.

interface Outcome {
  roundsToTarget: number | null;
  bestAccuracy: number;
  divergedAt: number | null;
  seconds: number;
}
interface Protocol {
  runProtocol(
    lrs: readonly number[],
    cap: number,
    seeds: readonly number[],
    run: (lr: number, seed: number, rounds: number) => Promise<Outcome>,
  ): Promise<{
    grid: Array<{ lr: number; limit: number; outcome: Outcome }>;
    lr: number;
    rounds: Array<number | null>;
  }>;
  gridCell(g: { lr: number; limit: number; outcome: Outcome }, cap: number): string;
}
interface Schedule {
  makespan(chains: ReadonlyArray<{ grid: number[]; seeds: number[] }>, processes: number): number;
}
const load = async <T>(module: string) => (await import(pathToFileURL(entryPoint(module).file).href)) as T;

/** A simulated method: `reach[seed][lr]` rounds to the target (null: never); records every call. */
function fake(reach: Record<number, Record<number, number | null>>) {
  const calls: string[] = [];
  const run = async (lr: number, seed: number, rounds: number): Promise<Outcome> => {
    calls.push(`lr ${lr} seed ${seed} ≤ ${rounds}`);
    const r = reach[seed]?.[lr] ?? null;
    const reached = r !== null && r <= rounds ? r : null;
    // Accuracy grows with the lr here, so the fallback choice is visible.
    // An lr of 1 or more diverges at round 3 when it does not reach the target.
    const divergedAt = reached === null && lr >= 1 ? 3 : null;
    return {
      roundsToTarget: reached,
      bestAccuracy: reached !== null ? 0.97 : lr / 10,
      divergedAt,
      seconds: 0,
    };
  };
  return { run, calls };
}

it('picks the lr on the first seed, cutting each later value at the best rounds so far, then runs the other seeds at it', async () => {
  const { runProtocol, gridCell } = await load<Protocol>('bench/federated/cnn-protocol');
  const { run, calls } = fake({
    1: { 0.1: 300, 0.2: 120, 0.5: null, 1: 120 },
    2: { 0.2: 150 },
    3: { 0.2: null },
  });
  const r = await runProtocol([0.1, 0.2, 0.5, 1], 1000, [1, 2, 3], run);
  // 0.5 never reaches: it stops at 120 rounds; 1.0 ties at 120: the earlier value stays chosen.
  assert.deepEqual(calls, [
    'lr 0.1 seed 1 ≤ 1000',
    'lr 0.2 seed 1 ≤ 300',
    'lr 0.5 seed 1 ≤ 120',
    'lr 1 seed 1 ≤ 120',
    'lr 0.2 seed 2 ≤ 1000',
    'lr 0.2 seed 3 ≤ 1000',
  ]);
  assert.equal(r.lr, 0.2);
  assert.deepEqual(r.rounds, [120, 150, null]);
  assert.deepEqual(
    r.grid.map((g) => gridCell(g, 1000)),
    ['300', '120', '> 120 (cut)', '120'],
  );
});

it('a best value at an end of the grid extends it past that end while the new value wins, at most twice', async () => {
  const { runProtocol } = await load<Protocol>('bench/federated/cnn-protocol');
  // Up: 0.2 is the largest and best; 0.4 wins too; 0.8 would, but two steps are the most.
  const up = fake({ 1: { 0.1: 50, 0.2: 40, 0.4: 30, 0.8: 20 } });
  const r = await runProtocol([0.1, 0.2], 100, [1], up.run);
  assert.deepEqual(up.calls, [
    'lr 0.1 seed 1 ≤ 100',
    'lr 0.2 seed 1 ≤ 50',
    'lr 0.4 seed 1 ≤ 40',
    'lr 0.8 seed 1 ≤ 30',
  ]);
  assert.equal(r.lr, 0.8);
  // Down: 0.05 is the smallest and best; 0.025 only ties, so the grid stops there.
  const down = fake({ 1: { 0.1: 30, 0.2: 50, 0.05: 20, 0.025: 20 } });
  const d = await runProtocol([0.1, 0.2, 0.05], 100, [1], down.run);
  assert.deepEqual(down.calls, [
    'lr 0.1 seed 1 ≤ 100',
    'lr 0.2 seed 1 ≤ 30',
    'lr 0.05 seed 1 ≤ 30',
    'lr 0.025 seed 1 ≤ 20',
  ]);
  assert.equal(d.lr, 0.05);
});

it('with no value at the target within the cap, every value runs the cap and the most accurate is chosen', async () => {
  const { runProtocol, gridCell } = await load<Protocol>('bench/federated/cnn-protocol');
  const { run, calls } = fake({});
  const r = await runProtocol([0.1, 0.5, 0.2, 1], 50, [1, 2], run);
  assert.deepEqual(calls, [
    'lr 0.1 seed 1 ≤ 50',
    'lr 0.5 seed 1 ≤ 50',
    'lr 0.2 seed 1 ≤ 50',
    'lr 1 seed 1 ≤ 50',
    'lr 0.5 seed 2 ≤ 50',
  ]);
  // lr 1 diverged: out of the choice, though its (meaningless) accuracy figure is the highest.
  assert.equal(r.lr, 0.5);
  assert.deepEqual(r.rounds, [null, null]);
  assert.deepEqual(
    r.grid.map((g) => gridCell(g, 50)),
    ['> 50', '> 50', '> 50', 'diverged (round 3)'],
  );
});

it('prices the protocol in processes: each grid in order, the other seeds side by side', async () => {
  const { makespan } = await load<Schedule>('bench/federated/cnn-schedule');
  const sgd = { grid: [6, 6, 6, 6], seeds: [6, 6] };
  const avg = { grid: [2, 2, 2, 2], seeds: [2, 2] };
  // One process: every run one after another.
  assert.equal(makespan([sgd, avg], 1), 48);
  // Two: FedSGD's grid (24) in one; FedAvg's grid and seeds (12) in the other, which then takes
  // one FedSGD seed while the first takes the other.
  assert.equal(makespan([sgd, avg], 2), 30);
  // More processes than runs in hand change nothing: a grid is sequential.
  assert.equal(makespan([sgd, avg], 8), 30);
});
