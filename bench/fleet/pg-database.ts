import { randomBytes } from 'node:crypto';
import pg from 'pg';

/**
 * A database on the PostgreSQL server the runs create theirs on (the machine's, trust auth, as
 * the store bench uses); `OUTPOST_BENCH_PG_URL` points elsewhere.
 */
export const BENCH_PG_URL = process.env.OUTPOST_BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** A database of one run: created fresh, dropped by `drop()` (sessions still on it are ended). */
export interface FleetDatabase {
  url: string;
  name: string;
  drop(): Promise<void>;
}

async function admin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: BENCH_PG_URL, connectionTimeoutMillis: 5000 });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** Undefined when the server answers, else why the NATS row cannot run (a line for the report). */
export async function pgMissing(): Promise<string | undefined> {
  try {
    await admin((c) => c.query('SELECT 1'));
    return undefined;
  } catch (err) {
    return `NATS skipped: its hub replicas need PostgreSQL, unreachable at ${new URL(BENCH_PG_URL).host} (${(err as Error).message}; set OUTPOST_BENCH_PG_URL)`;
  }
}

/** Creates `outpost_fleet_<random>` on {@link BENCH_PG_URL}'s server. */
export async function createFleetDatabase(): Promise<FleetDatabase> {
  const name = `outpost_fleet_${randomBytes(5).toString('hex')}`;
  await admin((c) => c.query(`CREATE DATABASE ${name}`));
  const url = new URL(BENCH_PG_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    name,
    drop: () => admin((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).then(() => undefined),
  };
}
