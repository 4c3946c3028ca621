import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createAgent } from '../../agent/index.js';
import { agentTestConfig, TestBroker, tempDir, testLogger, waitFor } from '../helpers/agent.js';

// The drain keeps at most `window` batches unacknowledged, each of consecutive
// events, and goes on as acks come. Absence of more batches is checked after a pause (well
// under the ack timeout).

describe('outbox window', () => {
  let tb: TestBroker;
  const dir = tempDir();
  before(async () => {
    tb = await TestBroker.start();
  });
  after(async () => {
    await tb.close();
    dir.remove();
  });

  it('stops at `window` batches in flight and resumes on acks', async () => {
    tb.acking = false;
    const agent = await createAgent(
      agentTestConfig({
        deviceId: 'dev-window',
        deviceSecret: 'a-device-secret-of-some-length',
        dataDir: dir.path,
        hub: { mqttUrl: tb.url },
        outbox: { window: 3, batchMaxEvents: 2, ackTimeoutMs: 1500 },
      }),
      { logger: testLogger() },
    );
    try {
      for (let i = 1; i <= 20; i++) agent.enqueue({ type: 'reading', body: i });
      const mine = () => tb.batches.filter((b) => b.epoch === agent.epoch);
      await waitFor(() => mine().length === 3, 'a full window');
      await sleep(300);
      assert.deepEqual(
        mine().map((b) => b.events.map((e) => e.seq)),
        [
          [1, 2],
          [3, 4],
          [5, 6],
        ],
        'three batches of consecutive events, then nothing until an ack',
      );
      tb.acking = true; // the window times out, the lane is resent from seq 1, and acks flow
      await waitFor(() => agent.status().outbox.telemetry.pending === 0, 'drained');
      assert.ok(mine().every((b) => b.events.length <= 2));
    } finally {
      tb.acking = true;
      await agent.close();
    }
  });
});
