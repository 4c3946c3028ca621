import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type Agent, createAgent } from '../../agent/index.js';
import type { Hub } from '../../hub/index.js';
import { agentTestConfig, FaultProxy, tempDir, waitFor } from '../helpers/agent.js';
import { Cleanups } from '../helpers/fixtures.js';
import { type Credentials, enroll, tempDir as hubTempDir, startHub } from '../helpers/hub.js';
import { bigOnnxModel, capturingLogger, modelReport, pushModel } from './helpers.js';

// A download cut mid-way (link reset by a TCP fault proxy) or interrupted by an agent restart
// resumes from its durable prefix with Range/If-Range instead of starting over.

const SIZE = 2 * 1024 * 1024;

describe('resumable downloads', () => {
  let hubDir: Awaited<ReturnType<typeof hubTempDir>>;
  let hub: Hub;
  let proxy: FaultProxy;
  /** The artifact's exact size, bytes. */
  let size = 0;
  const cleanups = new Cleanups();

  before(async () => {
    hubDir = await hubTempDir();
    hub = await startHub(hubDir.path);
    const res = await pushModel(hub, 'big', '1.0.0', bigOnnxModel(SIZE, 5));
    assert.equal(res.status, 201, JSON.stringify(res.body));
    size = res.body.variants[0].size;
    proxy = new FaultProxy();
    await proxy.listen();
    proxy.setTarget(hub.http.url);
  });
  after(async () => {
    await cleanups.run();
    await proxy.close();
    await hub.close();
    await hubDir.remove();
  });

  function startAgent(creds: Credentials, dataDir: string) {
    const { logger, lines } = capturingLogger();
    const started = createAgent(
      agentTestConfig({
        deviceId: creds.id,
        deviceSecret: creds.secret,
        dataDir,
        hub: { mqttUrl: hub.mqtt.url },
        inference: { profile: 'x86-64-cpu', threads: 1 },
        delivery: {
          trustedKeys: [hub.delivery.registry.signingKey.keys.publicKeyPem],
          hubHttpUrl: `http://127.0.0.1:${proxy.port}`,
          // Slow enough to be cut part-way on a loaded machine: ~4 s for 2 MiB.
          bandwidthBytesPerS: 512 * 1024,
          checkpointBytes: 64 * 1024,
          retryMinMs: 50,
          retryMaxMs: 200,
        },
      }),
      { logger },
    ).then((agent) => {
      cleanups.push(() => agent.close());
      return agent;
    });
    return { started, lines };
  }

  const installedLine = (lines: Array<Record<string, unknown>>) =>
    lines.find((l) => l.msg === 'artifact downloaded, verified and installed');

  const partway = (creds: Credentials) =>
    waitFor(
      async () => {
        const r = await modelReport(hub, creds.id, 'big');
        return (r?.downloading?.bytes ?? 0) >= 256 * 1024 && r.downloading.bytes < SIZE - 256 * 1024;
      },
      'download part-way',
      30_000,
    );

  it('resumes after the link is cut mid-download', async () => {
    const creds = await enroll(hub);
    const { started, lines } = startAgent(creds, tempDir().path);
    await started;
    await hub.delivery.desired.setModel(creds.id, { name: 'big', version: '1.0.0' });
    await partway(creds);
    proxy.cut();
    await waitFor(
      async () => (await modelReport(hub, creds.id, 'big'))?.active?.version === '1.0.0',
      'active',
      60_000,
    );
    assert.ok(
      lines.some((l) => l.msg === 'model delivery failed; retrying' && l.code === 'AGENT_DOWNLOAD_FAILED'),
      'the cut was seen',
    );
    const installed = installedLine(lines);
    assert.ok(installed, 'installed');
    assert.ok((installed.resumedFrom as number) > 0, `resumed from ${installed.resumedFrom}`);
    assert.equal((installed.resumedFrom as number) + (installed.fetched as number), size);
  });

  it('resumes after an agent restart mid-download', async () => {
    const creds = await enroll(hub);
    const dataDir = tempDir().path;
    const first = startAgent(creds, dataDir);
    const agent: Agent = await first.started;
    await hub.delivery.desired.setModel(creds.id, { name: 'big', version: '1.0.0' });
    await partway(creds);
    await agent.close();
    assert.equal(installedLine(first.lines), undefined, 'not finished before the restart');
    const second = startAgent(creds, dataDir);
    await second.started;
    await waitFor(
      async () => (await modelReport(hub, creds.id, 'big'))?.active?.version === '1.0.0',
      'active',
      60_000,
    );
    const installed = installedLine(second.lines);
    assert.ok(installed, 'installed after the restart');
    assert.ok((installed.resumedFrom as number) >= 64 * 1024, `resumed from ${installed.resumedFrom}`);
    assert.equal((installed.resumedFrom as number) + (installed.fetched as number), size);
  });
});
