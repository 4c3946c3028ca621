import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { type HubStore, openPostgresHubStore, openSqliteHubStore } from '../../hub/index.js';
import type { UplinkBatch } from '../../shared/index.js';
import { timed } from '../lib/measure.js';
import { machine, table } from '../lib/report.js';
import type { Benchmark, BenchOptions } from '../lib/types.js';

/** Database the PostgreSQL column runs in (a fresh schema, dropped afterwards). */
const PG_URL = process.env.OUTPOST_BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** One backend's run: wall time, events stored, CPU time of this process. */
interface Rate {
  ms: number;
  events: number;
  cpuUs: number;
}

interface Sizes {
  devices: number;
  batches: number;
  perBatch: number;
}

function batchOf(index: number, perBatch: number): UplinkBatch {
  const events = Array.from({ length: perBatch }, (_, i) => ({
    seq: index * perBatch + i + 1,
    type: 'bench.reading',
    at: 1_700_000_000_000 + i,
    body: { value: i, label: 'reading' },
  }));
  return { v: 1, epoch: 'epoch0001', lane: 'telemetry', events } as unknown as UplinkBatch;
}

/** Ingests every device's batches in order, the devices concurrently; events per second. */
async function ingestRate(store: HubStore, sizes: Sizes): Promise<Rate> {
  const ids = Array.from({ length: sizes.devices }, (_, i) => `bench-${i}`);
  for (const id of ids) await store.createDevice({ id, secretHash: 'x', createdAt: 1 });
  const cpuBefore = process.cpuUsage();
  const { ms } = await timed(() =>
    Promise.all(
      ids.map(async (id) => {
        for (let b = 0; b < sizes.batches; b++) await store.ingestBatch(id, batchOf(b, sizes.perBatch), b);
      }),
    ),
  );
  const cpu = process.cpuUsage(cpuBefore);
  const events = await store.countEvents();
  if (events !== sizes.devices * sizes.batches * sizes.perBatch)
    throw new Error(`store holds ${events} events`);
  return { ms, events, cpuUs: cpu.user + cpu.system };
}

async function onSqlite(sizes: Sizes): Promise<Rate> {
  const dir = mkdtempSync(join(tmpdir(), 'outpost-bench-store-'));
  const store = openSqliteHubStore(dir);
  try {
    return await ingestRate(store, sizes);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function onPostgres(sizes: Sizes): Promise<Rate> {
  const schema = `outpost_bench_${randomBytes(4).toString('hex')}`;
  const store = await openPostgresHubStore({ url: PG_URL, schema, max: 4 });
  try {
    return await ingestRate(store, sizes);
  } finally {
    await store.close();
    const client = new pg.Client({ connectionString: PG_URL });
    await client.connect();
    await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await client.end();
  }
}

/**
 * `npm run bench -- store [--devices N] [--batches N] [--batch N] [--quick]`: the hub store's
 * `ingestBatch` alone (no broker, no HTTP), on SQLite (FULL sync) and on PostgreSQL.
 */
export const storeBenchmark: Benchmark = {
  description: 'hub store ingest: ingestBatch events/s on SQLite and PostgreSQL (no broker)',
  async run(options: BenchOptions): Promise<string> {
    const params = options.params ?? {};
    for (const key of Object.keys(params)) {
      if (!['devices', 'batches', 'batch'].includes(key)) throw new Error(`store: unknown setting --${key}`);
    }
    const sizes: Sizes = {
      devices: Number(params.devices ?? (options.quick ? 10 : 50)),
      batches: Number(params.batches ?? (options.quick ? 20 : 100)),
      perBatch: Number(params.batch ?? 20),
    };
    if (!Object.values(sizes).every((n) => Number.isInteger(n) && n > 0))
      throw new Error('store: --devices, --batches and --batch must be positive integers');
    const rows: string[][] = [];
    for (const [name, run] of [
      ['sqlite', onSqlite],
      ['postgres', onPostgres],
    ] as const) {
      options.progress(`${name}: ingesting`);
      const measured = await run(sizes).catch((err: unknown) => err as Error);
      if (measured instanceof Error) {
        // Only an absent peer skips its row; anything else is the bench's failure.
        if ((measured as { code?: string }).code !== 'HUB_STORE_UNAVAILABLE') throw measured;
        rows.push([name, `skipped: ${measured.message}`, '', '', '']);
        continue;
      }
      const { ms, events, cpuUs } = measured;
      rows.push([
        name,
        String(events),
        `${ms.toFixed(0)} ms`,
        `${Math.round((events * 1000) / ms)}`,
        (cpuUs / events).toFixed(1),
      ]);
    }
    return [
      `store: ${sizes.devices} devices × ${sizes.batches} batches × ${sizes.perBatch} events, devices concurrent`,
      machine(),
      '',
      table(['backend', 'events', 'time', 'events/s', 'CPU µs/event'], rows),
      '',
      'CPU µs/event: user + system time of this process (the store code and its driver) per',
      'event stored; PostgreSQL server time is not in it. It moves less than events/s when other',
      'work shares the cores.',
    ].join('\n');
  },
};
