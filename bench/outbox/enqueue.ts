import { join } from 'node:path';
import Database from 'better-sqlite3';
import { createAgent } from '../../agent/index.js';
import { DEFAULT_LANE_QUOTAS } from '../../agent/outbox/outbox-config.js';
import { type Durability, openAgentStore } from '../../agent/store/index.js';
import { median, rate, timed } from '../lib/measure.js';
import { agentConfig, BATCH_MAX_BYTES, readingBody, type Scratch, silent } from './fixture.js';

/** Enqueue rates of one durability mode, events/s (median of the rounds). */
export interface EnqueueRates {
  durability: Durability;
  events: number;
  raw: number;
  store: number;
  agent: number;
}

const SYNC: Record<Durability, string> = { 'crash-safe': 'NORMAL', 'power-safe': 'FULL' };

/**
 * The baseline: a bare better-sqlite3 loop inserting the same rows into a table shaped like
 * the outbox, one transaction (autocommit) per event — the same durability per event as the
 * outbox, in WAL mode with the same `synchronous`.
 */
async function rawInserts(dir: string, durability: Durability, n: number): Promise<number> {
  const db = new Database(join(dir, 'raw.db'));
  db.pragma('journal_mode = WAL');
  db.pragma(`synchronous = ${SYNC[durability]}`);
  db.exec(`CREATE TABLE outbox (lane TEXT NOT NULL, seq INTEGER NOT NULL, type TEXT NOT NULL, at INTEGER NOT NULL,
           body TEXT NOT NULL, bytes INTEGER NOT NULL, PRIMARY KEY (lane, seq)) WITHOUT ROWID`);
  const insert = db.prepare(
    'INSERT INTO outbox (lane, seq, type, at, body, bytes) VALUES (?, ?, ?, ?, ?, ?)',
  );
  const { ms } = await timed(() => {
    for (let i = 1; i <= n; i++) {
      const body = JSON.stringify(readingBody(i));
      insert.run('telemetry', i, 'bench.reading', Date.now(), body, body.length + 50);
    }
  });
  db.close();
  return rate(n, ms);
}

/** `OutboxStore.enqueue`: seq, quota check, counters and clock in one transaction per event. */
async function storeEnqueues(dir: string, durability: Durability, n: number): Promise<number> {
  const store = openAgentStore({ dataDir: dir, durability, quotas: DEFAULT_LANE_QUOTAS });
  const { ms } = await timed(() => {
    for (let i = 1; i <= n; i++) {
      store.outbox.enqueue(
        'telemetry',
        'bench.reading',
        JSON.stringify(readingBody(i)),
        Date.now(),
        BATCH_MAX_BYTES,
      );
    }
  });
  store.close();
  return rate(n, ms);
}

/** `Agent.enqueue`, the public call: validation and serialisation on top of the store. */
async function agentEnqueues(dir: string, durability: Durability, n: number): Promise<number> {
  // No hub: the link retries in the background while the outbox fills.
  const agent = await createAgent(
    agentConfig({
      deviceId: 'bench-enqueue',
      deviceSecret: 'a-benchmark-device-secret',
      dataDir: dir,
      durability,
      hub: { mqttUrl: 'mqtt://127.0.0.1:1' },
    }),
    { logger: silent() },
  );
  const { ms } = await timed(() => {
    for (let i = 1; i <= n; i++) agent.enqueue({ type: 'bench.reading', body: readingBody(i) });
  });
  await agent.close();
  return rate(n, ms);
}

/**
 * Durable enqueue rate of the outbox against the raw insert loop, per durability mode.
 * Each round runs the three variants (each on a fresh file), in alternating order, and the
 * median per variant is kept, which evens out a shared, noisy machine.
 */
export async function measureEnqueue(
  scratch: Scratch,
  durability: Durability,
  n: number,
  rounds: number,
  progress: (line: string) => void,
): Promise<EnqueueRates> {
  const raw: number[] = [];
  const store: number[] = [];
  const agent: number[] = [];
  const variants = [
    async () => raw.push(await rawInserts(await scratch.dir(), durability, n)),
    async () => store.push(await storeEnqueues(await scratch.dir(), durability, n)),
    async () => agent.push(await agentEnqueues(await scratch.dir(), durability, n)),
  ];
  for (let r = 0; r < rounds; r++) {
    // Alternate the order, so that no variant always runs first (or right after another).
    for (const variant of r % 2 === 0 ? variants : [...variants].reverse()) await variant();
    progress(`enqueue ${durability} round ${r + 1}/${rounds}`);
  }
  return { durability, events: n, raw: median(raw), store: median(store), agent: median(agent) };
}
