import assert from 'node:assert/strict';
import { test } from 'node:test';
import pino from 'pino';
import type { HubBus, MessageHandler } from '../../hub/bus/types.js';
import { UPLINK_CONCURRENCY } from '../../hub/protocol/serial.js';
import { startUplink } from '../../hub/protocol/uplink.js';
import { Rejections } from '../../hub/rejections.js';
import { HubCounters } from '../../hub/stats.js';
import type { HubStore } from '../../hub/store/types.js';
import { deviceTopic } from '../../shared/index.js';

/** The uplink in front of a store whose calls wait until released, with a bus the test drives. */
async function uplinkOnSlowStore() {
  const handlers = new Map<string, MessageHandler>();
  const bus = {
    subscribe: async (filter: string, handler: MessageHandler) => {
      handlers.set(filter, handler);
    },
    publish: async () => undefined,
    onSessionEnd: () => undefined,
    clientCount: () => null,
  } as unknown as HubBus;
  let inStore = 0;
  let most = 0;
  let touched = 0;
  const releases: Array<() => void> = [];
  const store = {
    touch: async () => {
      touched++;
      inStore++;
      most = Math.max(most, inStore);
      await new Promise<void>((r) => releases.push(r));
      inStore--;
    },
    setReported: async () => true,
  } as unknown as HubStore;
  const counters = new HubCounters();
  const logger = pino({ level: 'silent' });
  const uplink = await startUplink({
    bus,
    store,
    rejections: new Rejections(counters, logger),
    counters,
    logger,
    maxPayloadBytes: 1 << 20,
  });
  const state = [...handlers.entries()].find(([filter]) => filter.endsWith('/state'))?.[1];
  assert.ok(state, `no state subscription among ${[...handlers.keys()].join(', ')}`);
  return {
    uplink,
    /** A reported-state message from `deviceId`, as the broker would hand it over. */
    send: (deviceId: string) => {
      void state(deviceTopic(deviceId, 'state'), Buffer.from('{}'), {} as never);
    },
    releaseAll: () => {
      for (const r of releases.splice(0)) r();
    },
    stats: () => ({ inStore, most, touched }),
  };
}

const settle = () => new Promise((r) => setTimeout(r, 50));

// 20,000 devices sending at once queued one store call each on the PostgreSQL pool, whose
// connect timeout then failed most of them. The hub now takes a bounded number at a time.
test('a flood of devices reaches the store at most UPLINK_CONCURRENCY messages at a time', async () => {
  const hub = await uplinkOnSlowStore();
  for (let i = 0; i < 1000; i++) hub.send(`d${i}`);
  await settle();
  assert.equal(hub.stats().inStore, UPLINK_CONCURRENCY);
  for (let round = 0; round < 1000 / UPLINK_CONCURRENCY + 2; round++) {
    hub.releaseAll();
    await settle();
  }
  assert.equal(hub.stats().touched, 1000);
  assert.equal(hub.stats().most, UPLINK_CONCURRENCY);
  await hub.uplink.close();
});

// Stopping a hub behind a backlog waited for every queued message to be handled (minutes with
// thousands queued). Those not started are left to the devices' resends and the broker's
// retained copies; only the messages in hand finish.
test('closing the uplink finishes the messages in hand and skips the backlog', async () => {
  const hub = await uplinkOnSlowStore();
  for (let i = 0; i < 1000; i++) hub.send(`d${i}`);
  await settle();
  let closed = false;
  const closing = hub.uplink.close().then(() => {
    closed = true;
  });
  // Released until the close is done (each round lets the next 64 in, were they let in).
  for (let round = 0; round < 1000 / UPLINK_CONCURRENCY + 2 && !closed; round++) {
    hub.releaseAll();
    await settle();
  }
  await closing;
  assert.equal(hub.stats().touched, UPLINK_CONCURRENCY);
});
