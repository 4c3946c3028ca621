import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { type Agent, createAgent } from '../../agent/index.js';
import type { Hub } from '../../hub/index.js';
import { isOutpostError } from '../../shared/index.js';
import { agentTestConfig, FaultProxy, testLogger } from '../helpers/agent.js';
import { api, Cleanups, enroll, startHub, tempDir, waitFor } from '../helpers/hub.js';

// The agent's data dir on a small filesystem of its own (a tmpfs mount) that fills while the
// hub is unreachable: new events are refused with 507 AGENT_STORAGE_FULL naming the data dir
// and the free bytes, never a 500; the status shows the free space; when the link returns,
// the drain and the acks still work (the reserve keeps room for them), the queue empties,
// events are accepted again, and the hub holds every accepted event exactly once.

const FS_BYTES = 32 * 1024 * 1024;
const RESERVE = 8 * 1024 * 1024;
const PAD = 'x'.repeat(4000);

/** Mounts a tmpfs of `bytes` at `dir`; the reason when this machine does not allow it. */
function mountTmpfs(dir: string, bytes: number): string | undefined {
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${bytes}`, 'tmpfs', dir], { stdio: 'pipe' });
    return undefined;
  } catch (err) {
    return `cannot mount a tmpfs here (needs root or CAP_SYS_ADMIN): ${String((err as Error).message).trim()}`;
  }
}

const probe = tempDir('outpost-full-disk-probe-');
const cannotMount = mountTmpfs(probe.path, 1024 * 1024);
if (cannotMount === undefined) execFileSync('umount', [probe.path]);
probe.remove();

describe('agent on a full disk', { skip: cannotMount }, () => {
  const cleanups = new Cleanups();
  const mnt = tempDir('outpost-full-disk-');
  let hub: Hub;
  let agent: Agent;
  let proxy: FaultProxy;
  let deviceId: string;
  let accepted = 0;

  before(async () => {
    cleanups.add(() => mnt.remove());
    assert.equal(mountTmpfs(mnt.path, FS_BYTES), undefined);
    cleanups.add(() => execFileSync('umount', [mnt.path]));
    const hubDir = tempDir();
    cleanups.add(() => hubDir.remove());
    hub = await startHub(hubDir.path);
    cleanups.add(() => hub.close());
    const creds = await enroll(hub);
    deviceId = creds.id;
    // The "hub" is down: the proxy has no target yet and refuses every connection.
    proxy = new FaultProxy();
    const mqttUrl = await proxy.listen();
    cleanups.add(() => proxy.close());
    agent = await createAgent(
      agentTestConfig({
        deviceId: creds.id,
        deviceSecret: creds.secret,
        dataDir: mnt.path,
        hub: { mqttUrl },
        outbox: { diskReserveBytes: RESERVE },
      }),
      { logger: testLogger() },
    );
    cleanups.add(() => agent.close());
  });
  after(() => cleanups.run());

  it('refuses new events with 507 AGENT_STORAGE_FULL once only the reserve is left', async () => {
    let refusal: unknown;
    for (let i = 0; i < 100_000 && refusal === undefined; i++) {
      try {
        agent.enqueue({ type: 'fill', lane: 'results', body: { i, pad: PAD } });
        accepted += 1;
      } catch (err) {
        refusal = err;
      }
    }
    assert.ok(isOutpostError(refusal), String(refusal));
    assert.equal(refusal.code, 'AGENT_STORAGE_FULL');
    assert.ok(accepted > 1000, `only ${accepted} events fitted`);

    const res = await fetch(`${agent.api.url}/v1/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ type: 'late', lane: 'results', body: { pad: PAD } }),
    });
    const body = (await res.json()) as { error: { code: string; message: string; details?: unknown } };
    assert.equal(res.status, 507, JSON.stringify(body));
    assert.equal(body.error.code, 'AGENT_STORAGE_FULL');
    assert.match(body.error.message, new RegExp(`data dir ${mnt.path} is full: \\d+ bytes free`));
  });

  it('shows the free space in the status, under the reserve', async () => {
    const res = await fetch(`${agent.api.url}/v1/status`);
    const status = (await res.json()) as {
      disk: { dataDir: string; freeBytes: number; reusableBytes: number; reserveBytes: number };
      outbox: { results: { pending: number } };
    };
    assert.equal(status.disk.dataDir, mnt.path);
    assert.equal(status.disk.reserveBytes, RESERVE);
    assert.ok(status.disk.freeBytes + status.disk.reusableBytes < RESERVE, JSON.stringify(status.disk));
    assert.ok(status.disk.freeBytes < FS_BYTES);
  });

  it('drains over the returning link on the full disk, frees space, and delivers every event once', async () => {
    proxy.setTarget(hub.mqtt.url);
    await waitFor(
      () => agent.status().outbox.results.pending === 0,
      'the full queue to drain to the hub',
      180_000,
    );
    // The acks deleted the rows: their pages are reusable, so events are accepted again.
    const disk = agent.status().disk;
    assert.ok(disk.freeBytes + disk.reusableBytes >= RESERVE, JSON.stringify(disk));
    const again = agent.enqueue({ type: 'after', lane: 'results', body: { pad: PAD } });
    assert.equal(again.seq, accepted + 1);

    const seqs: number[] = [];
    let next: string | undefined;
    do {
      const query = new URLSearchParams({ epoch: agent.epoch, lane: 'results', limit: '10000' });
      if (next !== undefined) query.set('after', next);
      const page = await api(hub, 'GET', `/v1/devices/${deviceId}/events?${query}`);
      assert.equal(page.status, 200, JSON.stringify(page.body));
      for (const e of page.body.events as Array<{ seq: number; type: string }>) {
        if (e.type === 'fill') seqs.push(e.seq);
      }
      next = page.body.next;
    } while (next !== undefined);
    assert.equal(seqs.length, accepted, 'every accepted event at the hub');
    assert.equal(new Set(seqs).size, accepted, 'none twice');
    assert.deepEqual(
      seqs.sort((a, b) => a - b),
      Array.from({ length: accepted }, (_, i) => i + 1),
    );
  });
});
