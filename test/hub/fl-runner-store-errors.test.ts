import assert from 'node:assert/strict';
import { test } from 'node:test';
import pino from 'pino';
import type { DesiredService } from '../../hub/desired/desired-service.js';
import { FlRoundRunner } from '../../hub/federated/round-runner.js';
import type { HubStore } from '../../hub/store/types.js';

// Seen with 20,000 devices on PostgreSQL: the pool had no connection within its 10 s while the
// runner listed its tasks, the rejection escaped the tick, and the hub's process died. A tick
// that fails must be logged and retried at the next one.
test('a federated tick whose store call fails is logged and retried, and the hub process lives on', async () => {
  let calls = 0;
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);
  process.on('unhandledRejection', onUnhandled);
  const logged: string[] = [];
  const log = pino({ level: 'error' }, { write: (line: string) => logged.push(line) });
  const runner = new FlRoundRunner({
    store: {
      listFlTasks: async () => {
        calls++;
        if (calls === 1) throw new Error('timeout exceeded when trying to connect');
        return [];
      },
    } as unknown as HubStore,
    desired: {} as DesiredService,
    log,
    now: Date.now,
    tickMs: 20,
  });
  try {
    runner.start();
    const until = Date.now() + 30_000;
    while (calls < 3 && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
    await runner.idle();
    await new Promise((r) => setImmediate(r));
    assert.ok(calls >= 3, `the runner stopped ticking after ${calls} call(s)`);
    assert.deepEqual(unhandled, []);
    assert.equal(logged.length, 1);
    assert.match(logged[0] as string, /federated tick failed; retried next tick/);
    assert.match(logged[0] as string, /timeout exceeded when trying to connect/);
  } finally {
    await runner.close();
    process.off('unhandledRejection', onUnhandled);
  }
});
