import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runFlCommand } from '../../cli/commands/fl.js';
import type { CliError } from '../../cli/exit-codes.js';
import { loadMnistSplit, partitionRows, simulate } from '../../federated/index.js';
import { configFromFlags } from '../../shared/index.js';
import { runCli } from '../cli/run-cli.js';

// The simulation is deterministic for a seed, the partitions are McMahan's,
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

  it('stops at the round whose local training diverged, and says so', async () => {
    const data = loadMnistSplit(30);
    const options = { clients: 10, fraction: 0.3, epochs: 1, rounds: 5, hidden: [16], trainPerClass: 30 };
    const sane = await simulate({ ...options, lr: 0.1 }, { data });
    assert.equal(sane.divergedAt, null);
    assert.equal(sane.rounds.length, 5);
    // An lr of 1e20 overflows float32 in the first local step: no round completes.
    const wild = await simulate({ ...options, lr: 1e20 }, { data });
    assert.equal(wild.divergedAt, 1);
    assert.deepEqual(wild.rounds, []);
    assert.equal(wild.roundsToTarget, null);
  });

  it('refuses bad options naming each problem', async () => {
    await assert.rejects(simulate({ clients: 0, strategy: 'fedsgd' as never }), /clients: .*strategy: /);
    await assert.rejects(simulate({ strategy: 'krum', strategyParams: { f: 1 } }), /krum parameters/);
  });
});

describe('outpost fl simulate', () => {
  it('prints the report as JSON on stdout and progress on stderr (a real process)', async () => {
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
  });

  it('prints the per-round table and the target line', async (t) => {
    const out: string[] = [];
    t.mock.method(console, 'log', (line: string) => out.push(line));
    t.mock.method(process.stderr, 'write', () => true);
    const { config } = configFromFlags([
      ...TINY,
      '--seed',
      '5',
      '--partition',
      'noniid',
      '--target-accuracy',
      '0.99',
    ]);
    await runFlCommand(['simulate'], config);
    const text = out.join('\n');
    assert.match(text, /MNIST noniid, 10 clients, C=0.3, E=1, B=10/);
    assert.match(text, /round\s+accuracy\s+loss\s+clients\n1\s+\d/);
    assert.match(text, /target 99\.00% not reached in 2 rounds/);
    assert.match(text, /seed 5, MLP 16 \(TF\.js/);
    out.length = 0;
    // The CNN from the command line: its channels and dense width as flags.
    const cnn = ['--model', 'cnn', '--filters', '4,8', '--dense', '16', '--target-accuracy', '0.15'];
    await runFlCommand(['simulate'], configFromFlags([...TINY, ...cnn]).config);
    assert.match(out.join('\n'), /seed 1, CNN conv 4\/8 \+ Dense 16 \(TF\.js/);
    assert.match(out.join('\n'), /target 15\.00% (reached at round \d|not reached in 2 rounds)/);
    out.length = 0;
    await runFlCommand(['simulate'], configFromFlags([...TINY, '--lr', '1e20']).config);
    assert.match(
      out.join('\n'),
      /diverged: local training gave a non-finite weight in round 1, so the run stopped there/,
    );
  });

  it('bad usage is a usage error (exit code 2) naming the problem', async () => {
    const usage = (args: string[]) => {
      const { config, positionals } = configFromFlags(args);
      return runFlCommand(positionals, config);
    };
    await assert.rejects(
      usage(['simulate', '--partition', 'random']),
      (e: CliError) => e.exitCode === 2 && /partition: Invalid option/.test(e.message),
    );
    await assert.rejects(
      usage(['simulate', '--bogus', '1']),
      (e: CliError) => e.exitCode === 2 && /unknown option\(s\) --bogus/.test(e.message),
    );
    await assert.rejects(
      usage(['frobnicate']),
      (e: CliError) => e.exitCode === 2 && /unknown subcommand "frobnicate"/.test(e.message),
    );
    await assert.rejects(
      usage(['simulate', '--strategy-params', '{oops']),
      (e: CliError) => e.exitCode === 2 && /not JSON/.test(e.message),
    );
  });
});
