import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import {
  AGENT_DB_FILE,
  createAgent,
  Launcher,
  type SlotName,
  Slots,
  StoreBackup,
  schemaVersion,
} from '../../agent/index.js';
import { REPO_ROOT } from '../compat/previous-release.js';
import { agentTestConfig, tempDir, testLogger, waitFor } from '../helpers/agent.js';

// A release that migrates the store and then fails: the revert restores the store the
// previous release can open, with its queued events.
const MIGRATE_AND_EXIT = (db: string) => `import { createRequire } from 'node:module';
const Database = createRequire(${JSON.stringify(join(REPO_ROOT, 'package.json'))})('better-sqlite3');
const db = new Database(${JSON.stringify(db)});
const version = db.pragma('user_version', { simple: true });
db.exec('CREATE TABLE next_release (x INTEGER)');
db.pragma('user_version = ' + (version + 1));
db.close();
process.exit(4);
`;
const STAY_UP = `setInterval(() => {}, 1000);\nprocess.on('SIGTERM', () => process.exit(0));\n`;

describe('agent update: the store backup', () => {
  const cleanups: Array<() => unknown> = [];
  after(async () => {
    for (const c of cleanups.reverse()) await c();
  });

  async function agentWithEvents(dataDir: string, events: number) {
    const agent = await createAgent(
      agentTestConfig({
        deviceId: 'dev-update-store',
        deviceSecret: 'secret-update-store',
        dataDir,
        hub: { mqttUrl: 'mqtt://127.0.0.1:9' },
      }),
      { logger: testLogger() },
    );
    for (let n = 0; n < events; n++) agent.enqueue({ type: 'queued.event', body: { n }, lane: 'results' });
    return agent;
  }

  it('is restored after a migrating release is reverted; the queued events are still there', async () => {
    const dir = tempDir('outpost-update-store-');
    cleanups.push(() => dir.remove());
    const dataDir = join(dir.path, 'data');
    const before = await agentWithEvents(dataDir, 3);
    const epoch = before.epoch;
    await before.close();

    const backup = new StoreBackup(dataDir, join(dir.path, 'store-backup.db'));
    const version = backup.take();
    assert.ok(version !== undefined && version > 0);
    assert.equal(backup.restoreIfMigrated(), undefined, 'nothing to restore before a migration');

    const slots = new Slots(join(dir.path, 'slots'));
    slots.init('0.1.0');
    const install = (slot: SlotName, code: string) => {
      mkdirSync(slots.dir(slot), { recursive: true });
      writeFileSync(join(slots.dir(slot), 'agent.mjs'), code);
    };
    install('a', STAY_UP);
    install('b', MIGRATE_AND_EXIT(join(dataDir, AGENT_DB_FILE)));
    slots.beginTrial('0.2.0', 60_000, Date.now());
    const launcher = new Launcher({
      slots,
      entry: (slotDir) => ({ file: join(slotDir, 'agent.mjs'), args: [] }),
      log: testLogger(),
      store: backup,
    });
    cleanups.push(() => launcher.stop());
    launcher.start();
    await waitFor(() => launcher.running?.slot === 'a', 'the previous release back', 30_000);
    await launcher.stop();
    assert.match(slots.load().lastFailure?.reason ?? '', /0\.2\.0 exited \(code 4\)/);
    assert.equal(schemaVersion(join(dataDir, AGENT_DB_FILE)), version, 'the migration was undone');

    const reopened = await agentWithEvents(dataDir, 0);
    cleanups.push(() => reopened.close());
    assert.equal(reopened.epoch, epoch, 'the same store, not a new one');
    assert.equal(reopened.status().outbox.results.pending, 3);
  });
});
