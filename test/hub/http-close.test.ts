import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import Fastify from 'fastify';
import { closeHttp } from '../../hub/http/close.js';

// A request still in flight when the hub stopped held the stop until it ended, and its
// connection then until the keep-alive timeout (72 s): seen as 70 s hub stops in the federated
// system tests. The close now cuts busy connections after a grace period.
test('closing the HTTP server cuts a request still in flight after the grace period', {
  timeout: 20_000,
}, async () => {
  const app = Fastify({ logger: false });
  let reached: () => void = () => undefined;
  const inFlight = new Promise<void>((r) => {
    reached = r;
  });
  // A request that never ends by itself: without the cut, the close would wait for it forever.
  app.get('/slow', () => {
    reached();
    return new Promise(() => undefined);
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = app.server.address() as AddressInfo;
  const request = fetch(`http://127.0.0.1:${port}/slow`).then(
    () => 'answered',
    () => 'cut',
  );
  await inFlight;
  await closeHttp(app, 100);
  assert.equal(await request, 'cut');
  assert.equal(app.server.listening, false);
});
