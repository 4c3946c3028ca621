import assert from 'node:assert/strict';
import { test } from 'node:test';
import { KeyedSerialQueue } from '../../hub/protocol/serial.js';

const tick = () => new Promise<void>((r) => setImmediate(r));

test('at most `limit` tasks run at once over all keys; the rest start in queue order, each key in its own order', async () => {
  const queue = new KeyedSerialQueue(() => assert.fail('no task throws'), 3);
  let running = 0;
  let most = 0;
  const started: string[] = [];
  const runs: Array<Promise<void>> = [];
  // 2,000 tasks over 500 keys: enough to cycle the waiting list past its compaction point.
  for (let i = 0; i < 2000; i++) {
    const key = `d${i % 500}`;
    runs.push(
      queue.run(key, async () => {
        started.push(`${key}:${i}`);
        running++;
        most = Math.max(most, running);
        await tick();
        running--;
      }),
    );
  }
  await Promise.all(runs);
  await queue.drain();
  assert.equal(most, 3);
  assert.equal(started.length, 2000);
  // Per key, tasks ran in the order they were queued.
  for (let k = 0; k < 500; k++) {
    const order = started.filter((s) => s.startsWith(`d${k}:`)).map((s) => Number(s.split(':')[1]));
    assert.deepEqual(order, [k, k + 500, k + 1000, k + 1500]);
  }
  // The first wave: the first task of the first keys, in queue order.
  assert.deepEqual(started.slice(0, 5), ['d0:0', 'd1:1', 'd2:2', 'd3:3', 'd4:4']);
});

test('a task that throws gives its turn on, and the error reaches onError with its key', async () => {
  const errors: string[] = [];
  const queue = new KeyedSerialQueue((err, key) => errors.push(`${key}: ${(err as Error).message}`), 1);
  const ran: string[] = [];
  await Promise.all([
    queue.run('a', async () => {
      throw new Error('store down');
    }),
    queue.run('b', async () => {
      ran.push('b');
    }),
    queue.run('a', async () => {
      ran.push('a2');
    }),
  ]);
  assert.deepEqual(errors, ['a: store down']);
  assert.deepEqual(ran, ['b', 'a2']);
});

test('a limit below 1 is refused', () => {
  assert.throws(() => new KeyedSerialQueue(() => undefined, 0), /limit must be ≥ 1, got 0/);
});
