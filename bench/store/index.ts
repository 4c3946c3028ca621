import { pino } from 'pino';
import { DEFAULT_DRIFT_SETTINGS } from '../../hub/drift/window.js';
import type { HubStore } from '../../hub/index.js';
import { startTelemetryFold } from '../../hub/telemetry/fold-loop.js';
import type { UplinkBatch } from '../../shared/index.js';
import { BENCH_DRIFT_EDGES, fleetEvent } from '../fleet/devices.js';
import { withPostgresStore, withSqliteStore } from '../lib/hub-stores.js';
import { timed } from '../lib/measure.js';
import { machine, table } from '../lib/report.js';
import type { Benchmark, BenchOptions } from '../lib/types.js';

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
  /**
   * `plain`: events the hub stores and folds nothing from; `telemetry`: device reports and drift
   * summaries, ingested as they are (`ingest`) or with the telemetry fold running beside the
   * ingest as in the hub (`fold`: a pass after stored telemetry, at most one per 100 ms).
   */
  mode: 'plain' | 'ingest' | 'fold';
}

function batchOf(index: number, perBatch: number, mode: Sizes['mode']): UplinkBatch {
  const events = Array.from({ length: perBatch }, (_, i) => ({
    seq: index * perBatch + i + 1,
    at: 1_700_000_000_000 + i,
    ...(mode === 'plain'
      ? { type: 'bench.reading', body: { value: i, label: 'reading' } }
      : fleetEvent('telemetry', index * perBatch + i, 1_700_000_000_000 + index * perBatch + i)),
  }));
  return { v: 1, epoch: 'epoch0001', lane: 'telemetry', events } as unknown as UplinkBatch;
}

/** Ingests every device's batches in order, the devices concurrently; events per second. */
async function ingestRate(store: HubStore, sizes: Sizes): Promise<Rate> {
  const ids = Array.from({ length: sizes.devices }, (_, i) => `bench-${i}`);
  for (const id of ids) await store.createDevice({ id, secretHash: 'x', createdAt: 1 });
  await store.putDriftBaseline({
    model: 'bench',
    version: '1.0.0',
    source: 'summaries',
    features: Array.from({ length: 4 }, () => ({
      edges: BENCH_DRIFT_EDGES,
      counts: new Array(10).fill(100),
    })),
    classes: [34, 33, 33],
    createdAt: 1,
  });
  const fold =
    sizes.mode === 'fold'
      ? startTelemetryFold({
          store,
          drift: DEFAULT_DRIFT_SETTINGS,
          now: Date.now,
          log: pino({ level: 'silent' }),
        })
      : undefined;
  const cpuBefore = process.cpuUsage();
  const { ms } = await timed(async () => {
    await Promise.all(
      ids.map(async (id) => {
        for (let b = 0; b < sizes.batches; b++) {
          await store.ingestBatch(id, batchOf(b, sizes.perBatch, sizes.mode), b);
          fold?.kick();
        }
      }),
    );
    // Done when the fold caught up: every report folded.
    await fold?.idle();
  });
  const cpu = process.cpuUsage(cpuBefore);
  await fold?.close();
  const events = await store.countEvents();
  if (events !== sizes.devices * sizes.batches * sizes.perBatch)
    throw new Error(`store holds ${events} events`);
  if (fold) {
    const reports = await Promise.all(
      ids.map(async (id) => (await store.getDeviceTelemetry(id))?.history.length),
    );
    const expected = Math.min(120, Math.ceil((sizes.batches * sizes.perBatch) / 2));
    if (reports.some((n) => n !== expected)) throw new Error(`the fold missed reports: ${reports.join(',')}`);
  }
  return { ms, events, cpuUs: cpu.user + cpu.system };
}

const onSqlite = (sizes: Sizes) => withSqliteStore((store) => ingestRate(store, sizes));
const onPostgres = (sizes: Sizes) => withPostgresStore((store) => ingestRate(store, sizes));

/**
 * `npm run bench -- store [--devices N] [--batches N] [--batch N] [--telemetry ROUNDS] [--quick]`:
 * the hub store's `ingestBatch` alone (no broker, no HTTP), on SQLite (FULL sync) and on
 * PostgreSQL. With `--telemetry`, the events are device reports and drift summaries, and each
 * backend runs ROUNDS rounds of two runs, in alternating order: ingest alone (what the hub's
 * store did with them before the telemetry fold), and ingest with the fold beside it until it
 * caught up (what it does now), in this one process.
 */
export const storeBenchmark: Benchmark = {
  description:
    'hub store ingest: ingestBatch events/s on SQLite and PostgreSQL (no broker); --telemetry: with the fold',
  async run(options: BenchOptions): Promise<string> {
    const params = options.params ?? {};
    for (const key of Object.keys(params)) {
      if (!['devices', 'batches', 'batch', 'telemetry'].includes(key))
        throw new Error(`store: unknown setting --${key}`);
    }
    const base = {
      devices: Number(params.devices ?? (options.quick ? 10 : 50)),
      batches: Number(params.batches ?? (options.quick ? 20 : 100)),
      perBatch: Number(params.batch ?? 20),
    };
    const rounds = Number(params.telemetry ?? 0);
    if (
      !Object.values(base).every((n) => Number.isInteger(n) && n > 0) ||
      !(Number.isInteger(rounds) && rounds >= 0)
    )
      throw new Error('store: --devices, --batches, --batch and --telemetry must be positive integers');
    const plan: Array<Sizes['mode']> =
      rounds === 0
        ? ['plain']
        : (Array.from({ length: rounds }, (_, r) =>
            r % 2 === 0 ? ['ingest', 'fold'] : ['fold', 'ingest'],
          ).flat() as Array<Sizes['mode']>);
    const rows: string[][] = [];
    const summary: string[][] = [];
    for (const [name, run] of [
      ['sqlite', onSqlite],
      ['postgres', onPostgres],
    ] as const) {
      const byMode = new Map<string, Rate[]>();
      for (const mode of plan) {
        options.progress(`${name}: ${mode === 'fold' ? 'ingesting with the telemetry fold' : 'ingesting'}`);
        const measured = await run({ ...base, mode }).catch((err: unknown) => err as Error);
        if (measured instanceof Error) {
          // Only an absent peer skips its row; anything else is the bench's failure.
          if ((measured as { code?: string }).code !== 'HUB_STORE_UNAVAILABLE') throw measured;
          rows.push([name, ...(rounds > 0 ? [''] : []), `skipped: ${measured.message}`, '', '', '']);
          break;
        }
        const { ms, events, cpuUs } = measured;
        byMode.set(mode, [...(byMode.get(mode) ?? []), measured]);
        rows.push([
          name,
          ...(rounds > 0 ? [mode === 'fold' ? 'ingest + fold' : 'ingest only'] : []),
          String(events),
          `${ms.toFixed(0)} ms`,
          `${Math.round((events * 1000) / ms)}`,
          (cpuUs / events).toFixed(1),
        ]);
      }
      if (rounds > 0) {
        for (const [mode, runs] of byMode) {
          const cpu = runs.map((r) => r.cpuUs / r.events);
          const rates = runs.map((r) => (r.events * 1000) / r.ms).sort((a, b) => a - b);
          summary.push([
            name,
            mode === 'fold' ? 'ingest + fold' : 'ingest only',
            `${(cpu.reduce((a, b) => a + b, 0) / cpu.length).toFixed(1)} (${cpu.map((c) => c.toFixed(1)).join(', ')})`,
            `${Math.round(rates[Math.floor(rates.length / 2)] as number)}`,
          ]);
        }
      }
    }
    return [
      `store: ${base.devices} devices × ${base.batches} batches × ${base.perBatch} ${rounds > 0 ? 'telemetry events (device reports and drift summaries)' : 'events'}, devices concurrent`,
      machine(),
      '',
      table(['backend', ...(rounds > 0 ? ['run'] : []), 'events', 'time', 'events/s', 'CPU µs/event'], rows),
      ...(summary.length > 0
        ? ['', table(['backend', 'run', 'CPU µs/event, mean (runs)', 'events/s, median'], summary)]
        : []),
      '',
      'CPU µs/event: user + system time of this process (the store code and its driver) per',
      'event stored; PostgreSQL server time is not in it. It moves less than events/s when other',
      'work shares the cores. With the fold, a run ends when the fold has caught up.',
    ].join('\n');
  },
};
