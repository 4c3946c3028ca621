import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Hub } from '../../hub/index.js';
import { TokenBuckets } from '../../hub/security/token-bucket.js';
import { closeClient, connectDevice, enroll, startHub, tempDir } from '../helpers/hub.js';

// The HTTP API limits each client with a token bucket; past it, 429
// HUB_RATE_LIMITED with Retry-After, before authentication (an unauthenticated flood is
// limited too); probes are exempt; every refusal is counted.

let dir: Awaited<ReturnType<typeof tempDir>>;
let hub: Hub;
before(async () => {
  dir = await tempDir();
  hub = await startHub(dir.path, { limits: { http: { ratePerS: 0.5, burst: 4 } } });
});
after(async () => {
  await hub?.close();
  await dir?.remove();
});

test('past the burst: 429 HUB_RATE_LIMITED with Retry-After, for good and bad tokens alike', async () => {
  const get = (token: string) =>
    fetch(`${hub.http.url}/v1/devices`, { headers: { authorization: `Bearer ${token}` } });
  const statuses: number[] = [];
  for (let i = 0; i < 3; i++) statuses.push((await get(hub.adminToken)).status);
  statuses.push((await get('wrong-token-wrong-token')).status);
  assert.deepEqual(statuses, [200, 200, 200, 401]);
  for (const token of [hub.adminToken, 'wrong-token-wrong-token']) {
    const res = await get(token);
    assert.equal(res.status, 429);
    assert.ok(Number(res.headers.get('retry-after')) >= 1, 'Retry-After in seconds');
    const body = (await res.json()) as { error: { code: string; message: string } };
    assert.equal(body.error.code, 'HUB_RATE_LIMITED');
    assert.match(body.error.message, /retry in \d+ s/);
  }
  assert.equal((await fetch(`${hub.http.url}/healthz`)).status, 200, 'probes are never limited');
  assert.equal(hub.stats().rejected.byReason['http.rate-limited'], 2);
});

test('token buckets refill at the rate and never exceed the burst', () => {
  let now = 0;
  const buckets = new TokenBuckets(2, 3, () => now);
  assert.deepEqual([buckets.take('a'), buckets.take('a'), buckets.take('a')], [0, 0, 0]);
  assert.equal(buckets.take('a'), 1, 'empty: retry in 1 s');
  assert.equal(buckets.take('b'), 0, 'buckets are per key');
  now += 500;
  assert.equal(buckets.take('a'), 0, 'half a second at 2/s brings one token back');
  now += 60_000;
  assert.deepEqual(
    [0, 1, 2, 3].map(() => buckets.take('a')),
    [0, 0, 0, 1],
    'refilled to the burst, no more',
  );
});

test('CONNECTs per device are limited on the embedded broker, charged only after the password check', async () => {
  const dir2 = await tempDir();
  const limited = await startHub(dir2.path, { limits: { mqtt: { connectsPerS: 0.01, connectBurst: 2 } } });
  try {
    const creds = await enroll(limited);
    for (let i = 0; i < 2; i++) await closeClient((await connectDevice(limited, creds)).client);
    await assert.rejects(connectDevice(limited, creds), /Server unavailable|unavailable/i);
    assert.equal(limited.stats().rejected.byReason['connect.rate-limited'], 1);
    const other = await enroll(limited);
    await closeClient((await connectDevice(limited, other)).client);
  } finally {
    await limited.close();
    await dir2.remove();
  }
});
