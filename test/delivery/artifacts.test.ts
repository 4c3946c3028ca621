import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { parseRange } from '../../hub/http/artifacts.js';
import type { Hub } from '../../hub/index.js';
import { enroll, startHub, tempDir } from '../helpers/hub.js';
import { classifierModel } from '../helpers/models.js';
import { basicAuth, pushModel } from './helpers.js';

describe('artifacts over HTTP', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let hub: Hub;
  let auth: string;
  const bytes = classifierModel(3).bytes;
  const sha = createHash('sha256').update(bytes).digest('hex');
  const size = bytes.byteLength;
  let url: string;

  before(async () => {
    dir = await tempDir();
    hub = await startHub(dir.path);
    assert.equal((await pushModel(hub, 'art', '1.0.0', bytes)).status, 201);
    const creds = await enroll(hub);
    // A device may download only what its desired state references.
    await hub.delivery.desired.setModel(creds.id, { name: 'art', version: '1.0.0' });
    auth = basicAuth(creds.id, creds.secret);
    url = `${hub.http.url}/v1/artifacts/${sha}`;
  });
  after(async () => {
    await hub.close();
    await dir.remove();
  });

  const get = (headers: Record<string, string> = {}, method = 'GET') =>
    fetch(url, { method, headers: { authorization: auth, ...headers } });

  it('serves the whole artifact with its sha as ETag to an authenticated device', async () => {
    const res = await get();
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('etag'), `"${sha}"`);
    assert.equal(res.headers.get('accept-ranges'), 'bytes');
    assert.equal(Number(res.headers.get('content-length')), size);
    assert.deepEqual(new Uint8Array(await res.arrayBuffer()), new Uint8Array(bytes));
  });

  it('HEAD answers the headers without a body', async () => {
    const res = await get({}, 'HEAD');
    assert.equal(res.status, 200);
    assert.equal(Number(res.headers.get('content-length')), size);
    assert.equal((await res.arrayBuffer()).byteLength, 0);
  });

  it('answers a single Range with 206 and Content-Range (a-b, a-, -n)', async () => {
    const cases: Array<[string, number, number]> = [
      ['bytes=10-19', 10, 19],
      [`bytes=${size - 5}-`, size - 5, size - 1],
      ['bytes=-7', size - 7, size - 1],
      [`bytes=0-${size + 100}`, 0, size - 1],
    ];
    for (const [range, start, end] of cases) {
      const res = await get({ range });
      assert.equal(res.status, 206, range);
      assert.equal(res.headers.get('content-range'), `bytes ${start}-${end}/${size}`);
      assert.deepEqual(
        new Uint8Array(await res.arrayBuffer()),
        new Uint8Array(bytes.subarray(start, end + 1)),
        range,
      );
    }
  });

  it('answers 416 with bytes */size past the end', async () => {
    const res = await get({ range: `bytes=${size}-` });
    assert.equal(res.status, 416);
    assert.equal(res.headers.get('content-range'), `bytes */${size}`);
    assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'HUB_RANGE_NOT_SATISFIABLE');
  });

  it('If-Range with the ETag keeps the range; another validator gets the whole artifact', async () => {
    const same = await get({ range: 'bytes=5-9', 'if-range': `"${sha}"` });
    assert.equal(same.status, 206);
    assert.equal((await same.arrayBuffer()).byteLength, 5);
    const other = await get({ range: 'bytes=5-9', 'if-range': `"${'0'.repeat(64)}"` });
    assert.equal(other.status, 200);
    assert.equal((await other.arrayBuffer()).byteLength, size);
    const cached = await get({ 'if-none-match': `"${sha}"` });
    assert.equal(cached.status, 304);
  });

  it('refuses anonymous and wrong credentials, and names a missing artifact', async () => {
    assert.equal((await fetch(url)).status, 401);
    assert.equal((await get({ authorization: basicAuth('dev-nobody', 'x'.repeat(20)) })).status, 401);
    const admin = await fetch(url, { headers: { authorization: `Bearer ${hub.adminToken}` } });
    assert.equal(admin.status, 200);
    await admin.arrayBuffer();
    const missing = await fetch(`${hub.http.url}/v1/artifacts/${'a'.repeat(64)}`, {
      headers: { authorization: auth },
    });
    assert.equal(missing.status, 404);
    assert.equal(
      ((await missing.json()) as { error: { code: string } }).error.code,
      'HUB_ARTIFACT_NOT_FOUND',
    );
  });

  it('parseRange ignores several ranges and malformed headers (whole artifact)', () => {
    assert.deepEqual(parseRange('bytes=0-1,5-6', 10), { kind: 'full' });
    assert.deepEqual(parseRange('items=0-1', 10), { kind: 'full' });
    assert.deepEqual(parseRange('bytes=5-2', 10), { kind: 'full' });
    assert.deepEqual(parseRange('bytes=-0', 10), { kind: 'unsatisfiable' });
  });
});
