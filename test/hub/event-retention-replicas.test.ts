import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import type { Hub } from '../../hub/index.js';
import { Cleanups, startHub, tempDir } from '../helpers/hub.js';
import { postgresSpace, probePostgres } from '../store-contract/backends.js';

// Two hub replicas on one PostgreSQL database: the holder of the `events` lease runs the
// retention passes, the other does not; once the holder is gone, the other takes them over.

const cleanups = new Cleanups();
after(() => cleanups.run());

test('with replicas one runs event retention; another takes it over', {
  skip: await probePostgres(),
}, async () => {
  const space = await postgresSpace();
  cleanups.add(() => space.dispose());
  const config = {
    // Longer than the test: the lease stays with its holder until that closes.
    store: { url: space.url, schema: space.schema, leaseTtlMs: 600_000 },
    events: { retention: { maxAgeDays: 30 } },
  };
  const hubs: Hub[] = [];
  for (const name of ['a', 'b']) {
    const dir = tempDir(`outpost-retention-${name}-`);
    cleanups.add(() => dir.remove());
    const hub = await startHub(dir.path, config);
    cleanups.add(() => hub.close());
    hubs.push(hub);
    await hub.eventRetention.idle();
  }
  const [a, b] = hubs as [Hub, Hub];
  assert.deepEqual(
    [a.stats().retention.passes, b.stats().retention.passes],
    [1, 0],
    'the first to start holds the lease and ran the start pass; the other did not',
  );
  b.eventRetention.request();
  await b.eventRetention.idle();
  assert.equal(b.stats().retention.passes, 0, 'still not the holder');

  // The holder stops (releasing its leases): the next pass asked of the other runs.
  await a.close();
  b.eventRetention.request();
  await b.eventRetention.idle();
  assert.equal(b.stats().retention.passes, 1);
});
