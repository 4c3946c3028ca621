import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pino } from 'pino';
import { startEmbeddedBroker } from '../../hub/broker/embedded.js';
import type { HubStore } from '../../hub/index.js';
import type { Rejections } from '../../hub/rejections.js';

interface Emitter {
  on(topic: string, fn: (message: unknown, done: () => void) => void): void;
  emit(message: { topic: string; payload: Buffer }, done?: () => void): void;
}

// A backlog of messages behind deliveries to slow clients once overflowed the stack when it
// drained (each message without an MQTT subscriber, like every device uplink, completes at
// once and starts the next by recursion) and killed the hub: 5000 devices sending together.
test('the embedded broker hands on a burst behind stalled deliveries without overflowing the stack', async () => {
  const broker = await startEmbeddedBroker({
    // Neither is reached: no client connects; only the broker's message emitter is driven.
    store: {} as HubStore,
    rejections: {} as Rejections,
    logger: pino({ level: 'silent' }),
    maxPacketBytes: 1 << 20,
    connectTimeoutMs: 5000,
  });
  try {
    const mq = (broker.aedes as unknown as { mq: Emitter }).mq;
    const stalled: Array<() => void> = [];
    // Deliveries that do not complete, as to clients whose sockets do not drain.
    mq.on('slow/+', (_message, done) => stalled.push(done));
    for (let i = 0; i < 300; i++) mq.emit({ topic: `slow/${i}`, payload: Buffer.alloc(1) });
    const burst = 200_000;
    let handed = 0;
    for (let i = 0; i < burst; i++)
      mq.emit({ topic: 'outpost/v1/d/dev-1/up', payload: Buffer.alloc(1) }, () => handed++);
    // The slow clients catch up: nothing throws, and every message of the burst went through.
    for (const done of stalled.splice(0)) done();
    assert.equal(handed, burst);
  } finally {
    await broker.close();
  }
});
