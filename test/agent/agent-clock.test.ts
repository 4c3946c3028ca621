import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { createAgent } from '../../agent/index.js';
import { AGENT_DB_FILE, type LaneQuota, openAgentStore } from '../../agent/store/index.js';
import { agentTestConfig, FaultProxy, tempDir, testLogger, waitFor } from '../helpers/agent.js';

// TTL counted in persisted monotonic time — the agent clock — never in wall time.

const dirs: Array<{ remove(): void }> = [];
after(() => {
  for (const d of dirs) d.remove();
});
function freshDir(): string {
  const d = tempDir();
  dirs.push(d);
  return d.path;
}
const ttl = (ttlS: number): LaneQuota => ({ maxRows: 1000, maxBytes: 1 << 20, policy: 'drop-oldest', ttlS });
const readClock = (dir: string) => {
  const db = new Database(join(dir, AGENT_DB_FILE), { readonly: true });
  try {
    return Number(
      (db.prepare("SELECT value FROM meta WHERE key = 'clock_ms'").get() as { value: string }).value,
    );
  } finally {
    db.close();
  }
};

describe('agent clock and TTL', () => {
  it('only moves forward, persists, and does not count time while stopped', () => {
    const dir = freshDir();
    let mono = 5_000;
    let store = openAgentStore({ dataDir: dir, durability: 'crash-safe', monoNow: () => mono });
    assert.equal(store.clock.now(), 0);
    mono += 1500;
    assert.equal(store.clock.now(), 1500);
    mono -= 1000; // a misbehaving source cannot move it back
    assert.equal(store.clock.now(), 1500);
    store.outbox.enqueue('telemetry', 'e', '1', 1, 1 << 20);
    store.close(); // persists 1500

    mono = 0; // a new process: the monotonic source restarts anywhere
    store = openAgentStore({ dataDir: dir, durability: 'crash-safe', monoNow: () => mono });
    assert.equal(store.clock.now(), 1500, 'resumes where it stopped; the downtime does not count');
    mono = 250;
    assert.equal(store.clock.now(), 1750);
    store.close();
  });

  it('expires the oldest events of a lane past its TTL, as a prefix, booked as ttl', () => {
    let mono = 0;
    const store = openAgentStore({
      dataDir: freshDir(),
      durability: 'crash-safe',
      monoNow: () => mono,
      quotas: { telemetry: ttl(10) },
    });
    for (let i = 0; i < 5; i++) {
      store.outbox.enqueue('telemetry', 'e', String(i), 1, 1 << 20);
      store.outbox.enqueue('results', 'e', String(i), 1, 1 << 20);
      mono += 1000;
    }
    // Stamps 0, 1000, …, 4000; the clock is at 5000.
    assert.equal(store.outbox.expire('telemetry', 100, 7), undefined, 'nothing is 10 s old yet');
    mono = 11_500; // cutoff 1500: the events stamped 0 and 1000
    const drop = store.outbox.expire('telemetry', 100, 7);
    assert.deepEqual([drop?.reason, drop?.count, drop?.through], ['ttl', 2, 2]);
    mono = 100_000;
    assert.equal(store.outbox.expire('telemetry', 2, 7)?.count, 2, 'in chunks');
    assert.equal(store.outbox.expire('telemetry', 2, 7)?.count, 1);
    assert.equal(store.outbox.expire('results', 100, 7), undefined, 'a lane without TTL keeps everything');
    assert.equal(store.outbox.ledger.totals().telemetry.ttl.count, 5);
    assert.equal(store.outbox.counters().results.pending, 5);
    store.close();
  });

  it('a wall-clock jump forward expires nothing, a jump backward keeps nothing', async () => {
    const proxy = new FaultProxy(); // no target: the hub is unreachable
    const url = await proxy.listen();
    const dir = freshDir();
    let mono = 0;
    let wall = Date.parse('2030-01-01T00:00:00Z');
    const agent = await createAgent(
      agentTestConfig({
        deviceId: 'dev-clock',
        deviceSecret: 'a-device-secret-of-some-length',
        dataDir: dir,
        hub: { mqttUrl: url },
        outbox: { expirySweepMs: 20, lanes: { telemetry: { ttlS: 60 } } },
      }),
      { logger: testLogger(), clock: { wallNow: () => wall, monoNow: () => mono } },
    );
    try {
      for (let i = 0; i < 3; i++) agent.enqueue({ type: 'reading', body: i });
      assert.equal(agent.status().outbox.telemetry.pending, 3);

      wall += 365 * 86_400_000; // a year forward (e.g. a bad NTP answer)
      mono += 30_000; // half the TTL of agent time
      await waitFor(() => readClock(dir) >= 30_000, 'a sweep after the jump (the clock saved)');
      assert.equal(agent.status().outbox.telemetry.pending, 3, 'nothing expired by the wall clock');

      wall -= 2 * 365 * 86_400_000; // two years back (a dead RTC battery)
      mono += 31_000; // past the TTL in agent time
      await waitFor(() => agent.status().outbox.telemetry.pending === 0, 'expired in agent time');
      assert.equal(agent.status().ledger.telemetry.ttl.count, 3);
      assert.equal(agent.status().outbox.telemetry.dropped, 3);
    } finally {
      await agent.close();
      await proxy.close();
    }
  });
});
