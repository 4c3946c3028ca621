import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadMnistSplit, partitionRows, simulate } from '../../federated/index.js';
import { runCli } from '../cli/run-cli.js';

// Issue 6 item 9: the simulation is deterministic for a seed, the partitions are McMahan's,
// and `outpost fl simulate` prints per-round accuracy (stdout) and progress (stderr).

const TINY = [
  '--clients',
  '10',
  '--fraction',
  '0.3',
  '--epochs',
  '1',
  '--rounds',
  '2',
  '--hidden',
  '16',
  '--train-per-class',
  '30',
];

describe('partitionRows', () => {
  const labels = Uint8Array.from({ length: 1000 }, (_, i) => i % 10);
  for (const p of ['iid', 'noniid'] as const) {
    it(`${p}: every row to exactly one client, deterministic for a seed`, () => {
      const parts = partitionRows(labels, 50, p, 3);
      assert.equal(parts.length, 50);
      const all = parts.flatMap((x) => [...x]).sort((a, b) => a - b);
      assert.deepEqual(
        all,
        Array.from({ length: 1000 }, (_, i) => i),
      );
      assert.ok(parts.every((x) => x.length === 20));
      assert.deepEqual(partitionRows(labels, 50, p, 3), parts);
      assert.notDeepEqual(partitionRows(labels, 50, p, 4), parts);
    });
  }
  it('noniid: each client sees at most two digits; iid clients see most of them', () => {
    const distinct = (rows: Uint32Array) => new Set([...rows].map((r) => labels[r])).size;
    assert.ok(partitionRows(labels, 50, 'noniid', 1).every((r) => distinct(r) <= 2));
    const iid = partitionRows(labels, 50, 'iid', 1).map(distinct);
    assert.ok(iid.reduce((a, b) => a + b, 0) / iid.length > 7);
  });
});

describe('simulate', () => {
  it('same seed, same report; another seed differs; accuracy improves over the initial model', async () => {
    const options = {
      clients: 10,
      fraction: 0.3,
      epochs: 2,
      rounds: 3,
      hidden: [16],
      trainPerClass: 30,
      lr: 0.1,
      seed: 9,
    };
    const data = loadMnistSplit(30);
    const a = await simulate(options, { data });
    const b = await simulate(options, { data });
    assert.deepEqual(a, b);
    assert.equal(a.rounds.length, 3);
    assert.ok(a.rounds.every((r) => r.clients === 3));
    assert.ok((a.rounds[2]?.accuracy as number) > a.initialAccuracy + 0.2, JSON.stringify(a.rounds));
    const c = await simulate({ ...options, seed: 10 }, { data });
    assert.notDeepEqual(c.rounds, a.rounds);
  });

  it('refuses bad options naming each problem', async () => {
    await assert.rejects(simulate({ clients: 0, strategy: 'fedsgd' as never }), /clients: .*strategy: /);
    await assert.rejects(simulate({ strategy: 'krum', strategyParams: { f: 1 } }), /krum parameters/);
  });
});

describe('outpost fl simulate', () => {
  it('prints rounds and rounds-to-target on stdout, progress on stderr', async () => {
    const a = await runCli(['fl', 'simulate', ...TINY, '--seed', '5', '--target-accuracy', '0.05', '--json']);
    assert.equal(a.code, 0, a.stderr);
    const report = JSON.parse(a.stdout) as {
      rounds: Array<{ round: number; accuracy: number }>;
      roundsToTarget: number;
    };
    assert.deepEqual(
      report.rounds.map((r) => r.round),
      [1, 2],
    );
    assert.equal(report.roundsToTarget, 1);
    assert.match(a.stderr, /round 1: accuracy \d+\.\d\d%/);
    const text = await runCli([
      'fl',
      'simulate',
      ...TINY,
      '--seed',
      '5',
      '--partition',
      'noniid',
      '--target-accuracy',
      '0.99',
    ]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /MNIST noniid, 10 clients, C=0.3, E=1, B=10/);
    assert.match(text.stdout, /round\s+accuracy\s+loss\s+clients\n1\s+\d/);
    assert.match(text.stdout, /target 99\.00% not reached in 2 rounds/);
  });

  it('bad usage exits 2 with the problem', async () => {
    const r = await runCli(['fl', 'simulate', '--partition', 'random']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /partition: Invalid option/);
    const u = await runCli(['fl', 'frobnicate']);
    assert.equal(u.code, 2);
    assert.match(u.stderr, /unknown subcommand "frobnicate"/);
  });
});
