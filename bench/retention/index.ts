import { pino } from 'pino';
import { EventsConfigSchema } from '../../hub/events/config.js';
import { EventRetention } from '../../hub/events/retention.js';
import type { HubStore } from '../../hub/index.js';
import type { UplinkBatch } from '../../shared/index.js';
import { withPostgresStore, withSqliteStore } from '../lib/hub-stores.js';
import { median, ratio, timed } from '../lib/measure.js';
import { machine, table } from '../lib/report.js';
import type { Benchmark, BenchOptions } from '../lib/types.js';

const DAY_MS = 86_400_000;
/** The hub's clock in this bench; events are received two days or one hour before it. */
const NOW = 1_800_000_000_000;
/** Old events at the head of every lane (deleted by the first pass). */
const OLD_PER_LANE = 10;
const BATCH = 500;
const PASSES = 5;

interface Sizes {
  devices: number;
  /** Young events per lane, one store per entry. */
  young: number[];
}

function batch(epoch: string, firstSeq: number, count: number): UplinkBatch {
  return {
    v: 1,
    epoch,
    lane: 'results',
    batchId: `${epoch}-${firstSeq}`,
    events: Array.from({ length: count }, (_, i) => ({
      seq: firstSeq + i,
      type: 'bench.reading',
      at: NOW - DAY_MS,
      body: { value: firstSeq + i },
    })),
  } as UplinkBatch;
}

/** Fills `devices` results lanes: the old head, then `young` events received an hour ago. */
async function fill(store: HubStore, devices: number, young: number): Promise<void> {
  await Promise.all(
    Array.from({ length: devices }, async (_, d) => {
      const id = `retention-${d}`;
      await store.createDevice({ id, secretHash: 'x', createdAt: 1 });
      await store.ingestBatch(id, batch('e1', 1, OLD_PER_LANE), NOW - 2 * DAY_MS);
      for (let seq = OLD_PER_LANE + 1; seq <= OLD_PER_LANE + young; seq += BATCH) {
        const count = Math.min(BATCH, OLD_PER_LANE + young - seq + 1);
        await store.ingestBatch(id, batch('e1', seq, count), NOW - 3_600_000);
      }
    }),
  );
}

/** The first pass (deletes the heads), then the median of {@link PASSES} passes with nothing old. */
async function passes(
  store: HubStore,
  sizes: Sizes,
  young: number,
): Promise<{ first: number; steady: number }> {
  await fill(store, sizes.devices, young);
  const retention = new EventRetention({
    store,
    log: pino({ level: 'silent' }),
    config: EventsConfigSchema.parse({ retention: { maxAgeDays: 1 } }).retention,
    now: () => NOW,
  });
  const first = await timed(() => retention.pruneAll());
  if (first.value.deleted !== sizes.devices * OLD_PER_LANE)
    throw new Error(`the first pass deleted ${first.value.deleted} events`);
  const steady: number[] = [];
  for (let i = 0; i < PASSES; i++) {
    const pass = await timed(() => retention.pruneAll());
    if (pass.value.deleted !== 0) throw new Error(`a later pass deleted ${pass.value.deleted} events`);
    steady.push(pass.ms);
  }
  return { first: first.ms, steady: median(steady) };
}

/**
 * `npm run bench -- retention [--devices N] [--quick]`: what an event-retention pass costs
 * against how many young events the lanes hold, on SQLite and PostgreSQL. Each store holds
 * `devices` results lanes of 10 old events then N young ones (two sizes of N); the first pass
 * deletes the old heads, later passes find nothing to delete. A pass that stops at each lane's
 * first young event costs the same at both sizes; one that read every young row would grow
 * with N.
 */
export const retentionBenchmark: Benchmark = {
  description:
    'hub event retention: one pass over lanes of young events, at two lane sizes, SQLite and PostgreSQL',
  async run(options: BenchOptions): Promise<string> {
    const params = options.params ?? {};
    for (const key of Object.keys(params)) {
      if (key !== 'devices') throw new Error(`retention: unknown setting --${key}`);
    }
    const devices = Number(params.devices ?? (options.quick ? 2 : 4));
    if (!Number.isInteger(devices) || devices < 1)
      throw new Error('retention: --devices must be a positive integer');
    const sizes: Sizes = { devices, young: options.quick ? [200, 2_000] : [1_000, 20_000] };
    const rows: string[][] = [];
    for (const [name, withStore] of [
      ['sqlite', withSqliteStore],
      ['postgres', withPostgresStore],
    ] as const) {
      let small: number | undefined;
      for (const young of sizes.young) {
        options.progress(`${name}: ${devices} lanes of ${young} young events`);
        const measured = await withStore((store) => passes(store, sizes, young)).catch(
          (err: unknown) => err as Error,
        );
        if (measured instanceof Error) {
          // Only an absent peer skips its row; anything else is the bench's failure.
          if ((measured as { code?: string }).code !== 'HUB_STORE_UNAVAILABLE') throw measured;
          rows.push([name, String(young), `skipped: ${measured.message}`, '', '', '']);
          break;
        }
        small ??= measured.steady;
        rows.push([
          name,
          String(young),
          `${measured.first.toFixed(1)} ms`,
          `${measured.steady.toFixed(2)} ms`,
          `${(measured.steady / devices).toFixed(3)} ms`,
          ratio(measured.steady / small),
        ]);
      }
    }
    return [
      `retention: ${devices} lanes per store, ${OLD_PER_LANE} old events each, then young ones; maxAgeDays 1, batchRows 500`,
      machine(),
      '',
      table(
        [
          'backend',
          'young events per lane',
          'first pass (deletes the old)',
          `later pass (median of ${PASSES})`,
          'per lane',
          '÷ smaller lanes',
        ],
        rows,
      ),
      '',
      "A later pass finds nothing to delete; its cost against the lanes' size is the figure to read.",
    ].join('\n');
  },
};
