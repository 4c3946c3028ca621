/**
 * `npm run bench -- fleet --broker nats` at a tiny size: three NATS nodes, two hub replicas on a
 * fresh PostgreSQL database; once half the batches are acked, one node and one replica are
 * SIGKILLed. The devices of the killed node reconnect to a survivor and get their retained
 * desired state again, and the exact check finds every sent event stored once (the bench reads
 * the events of every device from the database). The run's database is dropped afterwards.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { test } from 'node:test';
import { promisify } from 'node:util';
import pg from 'pg';
import { natsSkip } from '../helpers/nats-cluster.js';
import { entryPoint } from '../helpers/paths.js';
import { probePostgres, TEST_PG_URL } from '../store-contract/backends.js';

const run = promisify(execFile);
const BENCH = entryPoint('bench/main');

/** The report's table as rows of `{header: cell}` (cells are separated by two or more spaces). */
function tableRows(stdout: string): Array<Record<string, string>> {
  const lines = stdout.split('\n');
  const rule = lines.findIndex((l) => /^-+(\s+-+)+$/.test(l));
  assert.ok(rule > 0, `no table in:\n${stdout}`);
  const headers = (lines[rule - 1] as string).trim().split(/\s{2,}/);
  const rows: Array<Record<string, string>> = [];
  for (const line of lines.slice(rule + 1)) {
    if (line.trim() === '') break;
    const cells = line.trim().split(/\s{2,}/);
    rows.push(Object.fromEntries(headers.map((h, i) => [h, cells[i] ?? ''])));
  }
  return rows;
}

async function fleetDatabases(): Promise<string[]> {
  const client = new pg.Client({ connectionString: TEST_PG_URL });
  await client.connect();
  try {
    const res = await client.query<{ datname: string }>(
      "SELECT datname FROM pg_database WHERE datname LIKE 'outpost\\_fleet\\_%'",
    );
    return res.rows.map((r) => r.datname);
  } finally {
    await client.end();
  }
}

test('fleet --broker nats: a node and a replica killed mid-ingest, every event stored exactly once', {
  skip: natsSkip() ?? (await probePostgres()),
  timeout: 600_000,
}, async () => {
  const { stdout, stderr } = await run(
    process.execPath,
    // Consumer replicas named as the default is: the consumers must survive the node's death too.
    [
      ...BENCH.execArgv,
      BENCH.file,
      'fleet',
      '--devices=6',
      '--events=8',
      '--batch=2',
      '--broker=nats',
      '--nats-consumer-replicas=3',
      // Three device processes: the victims' reconnect times and the acks come from all of them.
      '--devices-per-process=2',
    ],
    // The runs' databases are created on the tests' server.
    { timeout: 590_000, env: { ...process.env, OUTPOST_BENCH_PG_URL: TEST_PG_URL } },
  );
  assert.match(stderr, /SIGKILL of node n1 and hub replica 1/);
  assert.match(stderr, /connecting 6 devices \(200 at a time, from 3 device processes\)/);
  const [row, ...more] = tableRows(stdout);
  assert.equal(more.length, 0);
  assert.ok(row, stdout);
  assert.match(stdout, /^NATS MQTT: stream replicas 3, consumer replicas 3$/m);
  assert.equal(row.broker, 'hub + NATS, 3 nodes');
  assert.equal(row.desired, '6/6');
  // Devices 0 and 3 were on node n1: both back on a survivor, with their desired state.
  assert.equal(row['desired again'], '2/2', stdout);
  assert.match(row['reconnect p50 / max'] as string, /^[\d.]+ ms \/ [\d.]+ ms$/);
  assert.equal(row.lost, '0', stdout);
  assert.equal(row.duplicated, '0', stdout);
  // The database of the run is gone (others running at the same time may hold their own).
  const name = /on PostgreSQL database (outpost_fleet_\w+)/.exec(stderr)?.[1];
  assert.ok(name, stderr);
  assert.ok(!(await fleetDatabases()).includes(name), `${name} was not dropped`);
});

test('fleet refuses a consumer replica count a three-node cluster cannot have', {
  timeout: 60_000,
}, async () => {
  await assert.rejects(
    run(process.execPath, [...BENCH.execArgv, BENCH.file, 'fleet', '--nats-consumer-replicas=4'], {
      timeout: 50_000,
    }),
    /--nats-consumer-replicas must be 1, 2 or 3, not 4/,
  );
});
