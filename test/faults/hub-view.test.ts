import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { HubApi } from './check/hub-view.js';

// The fault suite's reads of the hub ride out transient answers (a hub restarted by another
// trial, the rate limiter) instead of aborting the trial, and still fail on a real refusal.
// A real HTTP server plays the hub: it answers each path's scripted statuses in turn.

const script = new Map<string, number[]>();
const seen = new Map<string, number>();
let server: Server;
let url: string;

function answer(req: IncomingMessage, res: ServerResponse): void {
  const path = (req.url ?? '').split('?')[0] as string;
  seen.set(path, (seen.get(path) ?? 0) + 1);
  const status = script.get(path)?.shift() ?? 200;
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(status === 200 ? JSON.stringify({ ledger: { epoch: null, lanes: {} } }) : '{"error":"x"}');
}

describe('fault suite hub reads', () => {
  before(async () => {
    server = createServer(answer);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('retries a read answered 503, 502, 504 or 429 until the hub answers', async () => {
    script.set('/v1/devices/a', [503, 502, 504, 429]);
    const ledger = await new HubApi(url, 't').ledger('a');
    assert.deepEqual(ledger, { epoch: null, lanes: {} });
    assert.equal(seen.get('/v1/devices/a'), 5);
  });

  it('fails a read at once on an answer that is not transient', async () => {
    script.set('/v1/devices/b', [404]);
    await assert.rejects(new HubApi(url, 't').ledger('b'), /GET \/v1\/devices\/b: 404/);
    assert.equal(seen.get('/v1/devices/b'), 1);
  });

  it('does not repeat a write the hub answered 503 (it may have acted on it)', async () => {
    script.set('/v1/devices', [503]);
    await assert.rejects(new HubApi(url, 't').enroll('c'), /POST \/v1\/devices: 503/);
    assert.equal(seen.get('/v1/devices'), 1);
  });
});
