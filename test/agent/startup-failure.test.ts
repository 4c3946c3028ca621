import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { type AgentConfigInput, createAgent } from '../../agent/index.js';
import { agentTestConfig, FaultProxy, tempDir, testLogger, waitFor } from '../helpers/agent.js';

// A start-up that fails part-way closes every part already started: the store (SQLite
// removes its WAL file only when the last connection closes), the state reporter's timer,
// workers and listeners (the process's active handles return to what they were). One case
// per part that can fail, each failing for a real reason.

/** Active handles and requests of this process, by kind (timers, sockets, servers). */
function activeResources(): number {
  return process.getActiveResourcesInfo().filter((r) => r !== 'TTYWrap').length;
}

describe('agent start-up failure closes what already started', () => {
  const proxy = new FaultProxy();
  let mqttUrl: string;
  before(async () => {
    mqttUrl = await proxy.listen();
  });
  after(() => proxy.close());

  function config(dataDir: string, extra: Partial<AgentConfigInput> = {}) {
    return agentTestConfig({
      deviceId: 'dev-startup',
      deviceSecret: 'a-device-secret-of-some-length',
      dataDir,
      hub: { mqttUrl },
      ...extra,
    });
  }

  /** Starts an agent that must fail with `expected`, then checks that nothing stayed open. */
  async function failsCleanly(dataDir: string, extra: Partial<AgentConfigInput>, expected: RegExp) {
    const before = activeResources();
    await assert.rejects(createAgent(config(dataDir, extra), { logger: testLogger() }), expected);
    assert.ok(existsSync(join(dataDir, 'agent.db')), 'the store was opened');
    assert.equal(existsSync(join(dataDir, 'agent.db-wal')), false, 'the store was closed (its WAL removed)');
    await waitFor(() => activeResources() <= before, `active handles back to ${before}`);
  }

  it('closes the store when the inference set-up fails (unknown firmware profile)', async () => {
    const dir = tempDir();
    try {
      await failsCleanly(dir.path, { inference: { profile: 'no-such-profile' } }, /no-such-profile/);
    } finally {
      dir.remove();
    }
  });

  it('closes the store and inference when the delivery set-up fails (unreadable key file)', async () => {
    const dir = tempDir();
    try {
      const missing = join(dir.path, 'missing-key.pem');
      await failsCleanly(
        dir.path,
        { delivery: { trustedKeyFiles: [missing] } },
        /trustedKeyFiles: cannot read/,
      );
    } finally {
      dir.remove();
    }
  });

  it('closes the store, reporter, delivery and inference when loading the active models fails', async () => {
    const dir = tempDir();
    try {
      // A first start creates the store; then its table of active models is broken on disk.
      const agent = await createAgent(config(dir.path), { logger: testLogger() });
      await agent.close();
      const db = new Database(join(dir.path, 'agent.db'));
      db.exec('DROP TABLE active_models');
      db.close();
      await failsCleanly(dir.path, {}, /no such table: active_models/);
    } finally {
      dir.remove();
    }
  });

  it('closes every part started before the local API when its port is taken', async () => {
    const dir = tempDir();
    const taken: Server = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const port = (taken.address() as { port: number }).port;
    try {
      await failsCleanly(dir.path, { api: { port } }, /EADDRINUSE/);
    } finally {
      await new Promise<void>((resolve) => taken.close(() => resolve()));
      dir.remove();
    }
  });

  it('starts normally on the same data dir after a failed start', async () => {
    const dir = tempDir();
    try {
      await failsCleanly(dir.path, { inference: { profile: 'no-such-profile' } }, /no-such-profile/);
      const agent = await createAgent(config(dir.path), { logger: testLogger() });
      assert.equal(agent.status().deviceId, 'dev-startup');
      await agent.close();
    } finally {
      dir.remove();
    }
  });
});
