import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type Database from 'better-sqlite3';
import { AGENT_DB_FILE, type AgentStore, openAgentStore } from '../../agent/store/index.js';
import { StoreBackup, schemaVersion } from '../../agent/update/store-backup.js';
import type { Lane } from '../../shared/index.js';
import { tempDir } from '../helpers/agent.js';
import { ackUpTo, storedSeqs } from '../helpers/outbox-store.js';

const BIG = 1024 * 1024;
const dirs: Array<{ remove(): void }> = [];
after(() => {
  for (const d of dirs) d.remove();
});

function setup() {
  const d = tempDir('outpost-salvage-');
  dirs.push(d);
  const dataDir = join(d.path, 'data');
  return {
    dataDir,
    db: join(dataDir, AGENT_DB_FILE),
    backup: new StoreBackup(dataDir, join(d.path, 'backup.db')),
  };
}

const open = (dataDir: string, quotas?: Parameters<typeof openAgentStore>[0]['quotas']) =>
  openAgentStore({ dataDir, durability: 'crash-safe', quotas });

function enqueue(store: AgentStore, lane: Lane, n: number, tag: string): number[] {
  const seqs: number[] = [];
  for (let i = 0; i < n; i++) {
    seqs.push(store.outbox.enqueue(lane, 'e', JSON.stringify({ tag, i }), 1_000 + i, BIG));
  }
  return seqs;
}

/** What a newer release's migration does: a new outbox column and a higher user_version. */
function migrateAsNewerRelease(db: Database.Database): void {
  const version = Number(db.pragma('user_version', { simple: true }));
  db.exec('ALTER TABLE outbox ADD COLUMN priority INTEGER NOT NULL DEFAULT 0');
  db.exec('CREATE TABLE next_release (x INTEGER)');
  db.pragma(`user_version = ${version + 1}`);
}

const bodies = (store: AgentStore, lane: Lane) =>
  (
    store.db.prepare('SELECT seq, body FROM outbox WHERE lane = ? ORDER BY seq').all(lane) as Array<{
      seq: number;
      body: string;
    }>
  ).map((r) => `${r.seq}:${JSON.parse(r.body).tag}`);

describe('agent update: a restore carries what the reverted release queued', () => {
  it('keeps every unacked event once, drops the acked ones, never reuses a seq', () => {
    const { dataDir, db, backup } = setup();
    const old = open(dataDir);
    const epoch = old.epoch;
    enqueue(old, 'results', 5, 'old');
    enqueue(old, 'telemetry', 2, 'old');
    old.close();
    const version = backup.take();
    assert.ok(version !== undefined);

    // The new release: queues more, the hub acks some older ones, a quota drops telemetry.
    const quotas = { telemetry: { maxRows: 3, maxBytes: BIG, policy: 'drop-oldest' as const, ttlS: 0 } };
    const next = open(dataDir, quotas);
    enqueue(next, 'results', 4, 'new');
    enqueue(next, 'telemetry', 3, 'new');
    enqueue(next, 'control', 1, 'new');
    assert.equal(ackUpTo(next.outbox, epoch, 'results', 3), 3);
    migrateAsNewerRelease(next.db);
    const ledger = next.outbox.ledger.ranges();
    const counters = next.outbox.counters();
    assert.equal(counters.telemetry.dropped, 2, 'the quota dropped the two oldest telemetry events');
    next.close();
    assert.ok(schemaVersion(db) > version);

    const report = backup.restoreIfMigrated();
    assert.deepEqual(report, { carried: 8, removed: 5, notCarried: [] });
    assert.equal(schemaVersion(db), version, 'the schema is the old one again');

    const back = open(dataDir);
    try {
      assert.equal(back.epoch, epoch);
      assert.deepEqual(bodies(back, 'results'), ['4:old', '5:old', '6:new', '7:new', '8:new', '9:new']);
      assert.deepEqual(bodies(back, 'telemetry'), ['3:new', '4:new', '5:new']);
      assert.deepEqual(bodies(back, 'control'), ['1:new']);
      assert.deepEqual(back.outbox.ledger.ranges(), ledger, 'the loss ledger of the reverted release');
      assert.deepEqual(back.outbox.counters(), counters, 'counters agree with the rows');
      assert.equal(back.outbox.enqueue('results', 'e', '{}', 0, BIG), 10);
      assert.equal(back.outbox.enqueue('telemetry', 'e', '{}', 0, BIG), 6);
      assert.equal(back.outbox.enqueue('control', 'e', '{}', 0, BIG), 2);
      assert.equal(back.outbox.enqueue('learning', 'e', '{}', 0, BIG), 1);
    } finally {
      back.close();
    }
  });

  it('restores as it was when the reverted release queued and acked nothing', () => {
    const { dataDir, db, backup } = setup();
    const old = open(dataDir);
    enqueue(old, 'results', 3, 'old');
    const counters = old.outbox.counters();
    old.close();
    const version = backup.take();
    const next = open(dataDir);
    migrateAsNewerRelease(next.db);
    next.close();

    assert.deepEqual(backup.restoreIfMigrated(), { carried: 0, removed: 0, notCarried: [] });
    assert.equal(schemaVersion(db), version);
    const back = open(dataDir);
    try {
      assert.deepEqual(storedSeqs(back.db, 'results'), [1, 2, 3]);
      assert.deepEqual(back.outbox.counters(), counters);
    } finally {
      back.close();
    }
  });

  it('restores even when the migrated outbox cannot be read, and says what was not carried', () => {
    const { dataDir, db, backup } = setup();
    const old = open(dataDir);
    enqueue(old, 'results', 2, 'old');
    old.close();
    const version = backup.take();
    const next = open(dataDir);
    enqueue(next, 'results', 3, 'new');
    migrateAsNewerRelease(next.db);
    next.db.exec('ALTER TABLE outbox RENAME TO outbox_v2');
    next.close();

    const report = backup.restoreIfMigrated();
    assert.ok(report);
    assert.equal(report.carried, 0);
    assert.match(report.notCarried.join('\n'), /outbox was not carried: .*no table outbox/);
    assert.match(report.notCarried.join('\n'), /lane results: seqs 3\.\.5 queued by the reverted release/);
    assert.equal(schemaVersion(db), version, 'restored all the same');
    const back = open(dataDir);
    try {
      assert.deepEqual(storedSeqs(back.db, 'results'), [1, 2]);
      assert.equal(back.outbox.counters().results.pending, 2);
      assert.equal(back.outbox.enqueue('results', 'e', '{}', 0, BIG), 6, 'seqs 3..5 are not reused');
    } finally {
      back.close();
    }
  });

  it('carries the events of a release killed with its writes still in the WAL', async () => {
    const { dataDir, db, backup } = setup();
    const old = open(dataDir);
    enqueue(old, 'results', 2, 'old');
    old.close();
    const version = backup.take();

    const storeModule = fileURLToPath(new URL('../../agent/store/index.js', import.meta.url));
    const script = `
      const { openAgentStore } = await import(${JSON.stringify(storeModule)});
      const s = openAgentStore({ dataDir: ${JSON.stringify(dataDir)}, durability: 'crash-safe' });
      for (let i = 0; i < 3; i++) s.outbox.enqueue('results', 'e', JSON.stringify({ tag: 'new', i }), 0, ${BIG});
      s.db.exec('ALTER TABLE outbox ADD COLUMN priority INTEGER NOT NULL DEFAULT 0');
      s.db.pragma('user_version = ' + (s.db.pragma('user_version', { simple: true }) + 1));
      process.stdout.write('ready\\n');
      setInterval(() => {}, 1000);
    `;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (b: Buffer) => {
        if (b.toString().includes('ready')) resolve();
      });
      child.on('exit', (code) => reject(new Error(`child exited ${code}`)));
    });
    const exited = new Promise<string>((resolve) =>
      child.on('exit', (code, signal) => resolve(`${code} ${signal}`)),
    );
    child.kill('SIGKILL');
    const how = await exited;
    const wal = existsSync(`${db}-wal`) ? statSync(`${db}-wal`).size : 'no file';
    assert.ok(
      typeof wal === 'number' && wal > 0,
      `the writes are in the WAL (WAL: ${wal}; the release ended: ${how})`,
    );

    const report = backup.restoreIfMigrated();
    assert.deepEqual(report, { carried: 3, removed: 0, notCarried: [] });
    assert.equal(schemaVersion(db), version);
    const back = open(dataDir);
    try {
      assert.deepEqual(bodies(back, 'results'), ['1:old', '2:old', '3:new', '4:new', '5:new']);
      assert.equal(back.outbox.enqueue('results', 'e', '{}', 0, BIG), 6);
    } finally {
      back.close();
    }
  });
});
