/**
 * Runs one set of contract tests over every HubStore backend (see `backends.ts`): each
 * backend gets its own `describe`, a fresh space and an open store; PostgreSQL's describe is
 * skipped with the reason when the database is unreachable.
 */
import { after, before, describe } from 'node:test';
import type { HubStore } from '../../hub/index.js';
import { type StoreSpace, storeBackends } from './backends.js';

/** What a contract body gets: the open store and its space (for a second handle). */
export interface ContractContext {
  /** Backend name, `sqlite` or `postgres`. */
  readonly backend: string;
  readonly store: HubStore;
  readonly space: StoreSpace;
}

const backends = await storeBackends();

/**
 * Declares `title` once per backend. `body` registers tests (synchronously, as in a
 * `describe`) that read the context through the getter once they run.
 */
export function contract(title: string, body: (ctx: () => ContractContext) => void): void {
  for (const backend of backends) {
    describe(`${title} [${backend.name}]`, { skip: backend.skip }, () => {
      let ctx: ContractContext | undefined;
      before(async () => {
        const space = await backend.space();
        ctx = { backend: backend.name, store: await space.open(), space };
      });
      after(async () => {
        await ctx?.store.close();
        await ctx?.space.dispose();
      });
      body(() => {
        if (ctx === undefined) throw new Error('contract context used before `before` ran');
        return ctx;
      });
    });
  }
}
