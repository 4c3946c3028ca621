import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { createCloudClient } from '../../../agent/inference/cloud-client.js';
import { tensorToJson } from '../../../inference/index.js';

// The device's cloud client against a real HTTP server that resets the first connections it
// is given (a pool of kept-alive sockets a proxy closed at once): the request is sent again
// while it died before any answer, a bounded number of times, and a hub that keeps
// resetting is reported with the reset, not with a deadline it never reached.

describe('cloud client: connections reset before an answer', () => {
  let resetsLeft = 0;
  let requests = 0;
  const server: Server = createServer((req, res) => {
    requests++;
    if (resetsLeft > 0) {
      resetsLeft--;
      req.socket.resetAndDestroy();
      return;
    }
    req.resume();
    req.on('end', () => {
      const probs = { dtype: 'float32' as const, dims: [1, 2], data: new Float32Array([0.25, 0.75]) };
      res.setHeader('content-type', 'application/json');
      res.end(
        JSON.stringify({
          model: 'm',
          version: '2.0.0',
          engine: 'onnx:cpu',
          outputs: { probs: tensorToJson(probs) },
        }),
      );
    });
  });
  let client: ReturnType<typeof createCloudClient>;
  const input = { x: { dtype: 'float32' as const, dims: [1, 1], data: new Float32Array([1]) } };

  before(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    client = createCloudClient({ baseUrl: `http://127.0.0.1:${port}`, deviceId: 'd1', secret: 's' });
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('three resets in a row are tried past, and the fourth try is answered', async () => {
    resetsLeft = 3;
    requests = 0;
    const answer = await client.infer('m', input, 60_000);
    assert.equal(requests, 4);
    assert.equal(answer.version, '2.0.0');
    assert.deepEqual(Array.from((answer.outputs.probs?.data ?? []) as Float32Array), [0.25, 0.75]);
  });

  it('a hub that resets every try fails with the reset after four tries', async () => {
    resetsLeft = 100;
    requests = 0;
    await assert.rejects(client.infer('m', input, 60_000), (err: { code?: string; message?: string }) => {
      assert.equal(err.code, 'INFER_CLOUD_UNAVAILABLE');
      assert.match(err.message ?? '', /ECONNRESET|other side closed|socket/i);
      assert.doesNotMatch(err.message ?? '', /no answer within/);
      return true;
    });
    assert.equal(requests, 4);
  });
});
