import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Hub } from '../../hub/index.js';
import { api, startHub, tempDir } from '../helpers/hub.js';
import { runBuiltCli } from '../packaging/process-helpers.js';

describe('outpost doctor against a real hub', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let work: Awaited<ReturnType<typeof tempDir>>;
  let hub: Hub;
  before(async () => {
    dir = await tempDir();
    work = await tempDir('outpost-doctor-');
    hub = await startHub(dir.path);
  });
  after(async () => {
    await hub.close();
    await dir.remove();
    await work.remove();
  });

  test('doctor hub: store integrity and keys ok; a port another process holds fails with the fix', async () => {
    const res = await runBuiltCli([
      'doctor',
      'hub',
      '--data-dir',
      dir.path,
      '--http.host',
      '127.0.0.1',
      '--http.port',
      String(hub.http.port),
      '--mqtt.port',
      '0',
    ]);
    assert.equal(res.code, 1, res.stdout + res.stderr);
    assert.match(res.stdout, /^ok\s+store\s+.*hub\.db: integrity ok$/m);
    assert.match(res.stdout, /^ok\s+signing key\s+.*signing-key\.pem present$/m);
    assert.match(
      res.stdout,
      new RegExp(
        `^fail\\s+http\\.port\\s+127\\.0\\.0\\.1:${hub.http.port} is in use by another process`,
        'm',
      ),
    );
    assert.match(res.stdout, /fix: stop it or choose another port \(--http\.port\)/);
  });

  test('doctor agent: a joined agent passes; a wrong secret fails at the broker', async () => {
    const { body } = await api(hub, 'POST', '/v1/devices', { id: 'doctor-1' });
    const dataDir = join(work.path, 'agent');
    assert.equal((await runBuiltCli(['agent', 'join', body.joinToken, '--data-dir', dataDir])).code, 0);
    const env = { OUTPOST_AGENT_API__PORT: '0' };
    const good = await runBuiltCli(['doctor', 'agent', '--data-dir', dataDir], env);
    assert.equal(good.code, 0, good.stdout + good.stderr);
    assert.match(good.stdout, /^ok\s+keys\s+trusted hub keys configured$/m);
    assert.match(good.stdout, /^ok\s+broker\s+mqtt:\/\/127\.0\.0\.1:\d+ accepts doctor-1$/m);
    assert.match(good.stdout, /^ok\s+clock\s+within 5 s of the hub/m);
    const bad = await runBuiltCli(['doctor', 'agent', '--data-dir', dataDir], {
      ...env,
      OUTPOST_AGENT_DEVICE_SECRET: 'not-the-secret-0123456789',
    });
    assert.equal(bad.code, 1, bad.stdout);
    assert.match(bad.stdout, /^fail\s+broker\s+/m);
  });
});

test('doctor names a bad config and an unknown target', async () => {
  const res = await runBuiltCli(['doctor', 'hub', '--http.port', 'x', '--data-dir', '/nonexistent/outpost']);
  assert.equal(res.code, 1);
  assert.match(res.stdout, /^fail\s+config\s+.*http\.port/m);
  assert.equal((await runBuiltCli(['doctor', 'fridge'])).code, 2);
});
