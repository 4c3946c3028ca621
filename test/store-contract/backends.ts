/**
 * The HubStore implementations the contract suite runs over (docs/architecture.md "Testing": one suite per
 * interface, every implementation): SQLite on a temp dir, PostgreSQL in a fresh schema of
 * the machine's database (`OUTPOST_TEST_PG_URL`, default `postgres://postgres@127.0.0.1:5432/test`)
 * that is dropped afterwards. PostgreSQL is skipped, with the reason, only when unreachable.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { type HubStore, openPostgresHubStore, openSqliteHubStore } from '../../hub/index.js';
import { tempDir } from '../helpers/hub.js';

/** Default test database: the machine's PostgreSQL, trust auth. */
export const TEST_PG_URL = process.env.OUTPOST_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** One isolated store location: open as many handles on it as needed, then dispose. */
export interface StoreSpace {
  /** A new handle on the same data (a second replica, or a reopen after close). */
  open(): Promise<HubStore>;
  /** Closes nothing by itself: removes the directory or drops the schema. */
  dispose(): Promise<void>;
}

/** A backend of the contract suite. */
export interface StoreBackend {
  name: string;
  /** Why the backend is skipped, or undefined when it runs. */
  skip: string | undefined;
  space(): Promise<StoreSpace>;
}

let pgProbe: Promise<string | undefined> | undefined;

/** Undefined when PostgreSQL answers, else why not (for the skip message). */
export function probePostgres(url = TEST_PG_URL): Promise<string | undefined> {
  pgProbe ??= (async () => {
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
    try {
      await client.connect();
      await client.query('SELECT 1');
      return undefined;
    } catch (err) {
      return `PostgreSQL unreachable at ${url}: ${(err as Error).message}`;
    } finally {
      await client.end().catch(() => undefined);
    }
  })();
  return pgProbe;
}

/** A fresh schema `outpost_t_…` of the test database, dropped by `dispose()`. */
export async function postgresSpace(
  url = TEST_PG_URL,
): Promise<StoreSpace & { schema: string; url: string }> {
  const schema = `outpost_t_${process.pid}_${randomBytes(4).toString('hex')}`;
  return {
    schema,
    url,
    open: () => openPostgresHubStore({ url, schema, max: 4 }),
    async dispose() {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      } finally {
        await client.end();
      }
    },
  };
}

/** Every backend, PostgreSQL with its skip reason resolved. */
export async function storeBackends(): Promise<StoreBackend[]> {
  return [
    {
      name: 'sqlite',
      skip: undefined,
      async space() {
        const dir = await tempDir('outpost-contract-');
        return { open: async () => openSqliteHubStore(dir.path), dispose: async () => dir.remove() };
      },
    },
    { name: 'postgres', skip: await probePostgres(), space: () => postgresSpace() },
  ];
}
