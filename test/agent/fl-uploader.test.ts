import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { UpdateUploader } from '../../agent/federated/uploader.js';
import { openDatabase } from '../../agent/store/database.js';
import type { Hub } from '../../hub/index.js';
import { FL_UPLOAD_PART_BYTES, flUploadPath } from '../../shared/messages/federated.js';
import { testLogger } from '../helpers/agent.js';
import { Cleanups, type Credentials, enroll, startHub, tempDir } from '../helpers/hub.js';

// The agent's uploader against a real hub: it resumes at the hub's offset (sending only the
// parts the hub lacks), drops an upload the hub refuses for good, and removes the files of
// uploads a crash left unrecorded.

const MiB = FL_UPLOAD_PART_BYTES;

describe('federated update uploader', () => {
  const cleanups = new Cleanups();
  let hub: Hub;
  let device: Credentials;
  const update = randomBytes(2 * MiB + 100);
  const sha = createHash('sha256').update(update).digest('hex');

  const uploader = (patches: string[] = []) => {
    const dir = tempDir('outpost-fl-uploader-');
    cleanups.push(() => dir.remove());
    const db = openDatabase(dir.path, 'crash-safe');
    cleanups.push(() => db.close());
    const u = new UpdateUploader({
      db,
      dataDir: dir.path,
      hubHttpUrl: hub.http.url,
      authorization: `Basic ${Buffer.from(`${device.id}:${device.secret}`).toString('base64')}`,
      fetch: (url, init) => {
        if (init.method === 'PATCH')
          patches.push(String((init.headers as Record<string, string>)['upload-offset']));
        return fetch(url, init);
      },
      bandwidthBps: 0,
      retryMinMs: 10,
      retryMaxMs: 50,
      log: testLogger(),
    });
    cleanups.push(() => u.close());
    return { u, dir: dir.path };
  };

  before(async () => {
    const dir = tempDir('outpost-fl-uploader-hub-');
    cleanups.push(() => dir.remove());
    hub = await startHub(dir.path);
    cleanups.push(() => hub.close());
    device = await enroll(hub);
    for (const [id, status] of [
      ['open', 'open'],
      ['gone', 'failed'],
    ] as const) {
      await hub.store.createFlTask(
        {
          id,
          spec: { mode: 'sync', shapes: [{ name: 'w', shape: [1_000_000] }], maxStaleness: 5 },
          status: 'running',
          round: 1,
          serverState: null,
          best: null,
          reason: null,
          createdAt: 1,
          updatedAt: 1,
        },
        new Uint8Array(8),
      );
      await hub.store.openFlRound({
        taskId: id,
        round: 1,
        status: 'open',
        selected: [device.id],
        openedAt: 1,
        deadline: Date.now() + 3_600_000,
        closedAt: null,
        metrics: {},
      });
      if (status === 'failed') {
        await hub.store.closeFlRound({
          taskId: id,
          round: 1,
          status,
          closedAt: 2,
          metrics: {},
          updates: [],
          task: { round: 2 },
        });
      }
    }
  });
  after(() => cleanups.run());

  it('sends only the parts the hub lacks, then forgets the upload', async () => {
    // A previous run got the first part through.
    const first = await fetch(`${hub.http.url}${flUploadPath('open', 1)}`, {
      method: 'PATCH',
      headers: {
        authorization: `Basic ${Buffer.from(`${device.id}:${device.secret}`).toString('base64')}`,
        'content-type': 'application/offset+octet-stream',
        'upload-offset': '0',
        'upload-length': String(update.length),
        'upload-sha256': sha,
      },
      body: update.subarray(0, MiB),
    });
    assert.equal(first.status, 204);
    const patches: string[] = [];
    const { u, dir } = uploader(patches);
    u.record(u.stage('open', 1, update), Date.now());
    assert.deepEqual(
      u.status().map((s) => [s.taskId, s.round, s.size]),
      [['open', 1, update.length]],
    );
    u.kick();
    await u.idle();
    assert.deepEqual(patches, [String(MiB), String(2 * MiB)]);
    assert.deepEqual(u.status(), []);
    assert.deepEqual(readdirSync(join(dir, 'fl-uploads')), []);
    const heads = await hub.store.getFlChunkHeads('open', 1, device.id);
    assert.deepEqual(
      heads.map((h) => [h.index, h.size]),
      [
        [1, MiB],
        [2, MiB],
        [3, 100],
      ],
    );
  });

  it('drops an upload the hub refuses for good, and the files of unrecorded uploads', async () => {
    const { u, dir } = uploader();
    const staged = u.stage('gone', 1, update);
    u.record(staged, Date.now());
    const orphan = join(dir, 'fl-uploads', 'orphan.upd');
    writeFileSync(orphan, 'x');
    u.removeOrphans();
    assert.equal(existsSync(orphan), false);
    assert.equal(existsSync(join(dir, 'fl-uploads', staged.file)), true, 'a recorded upload stays');
    u.kick();
    await u.idle();
    assert.deepEqual(u.status(), [], 'refused (the round failed): forgotten');
    assert.equal(existsSync(join(dir, 'fl-uploads', staged.file)), false);
    assert.deepEqual(await hub.store.getFlChunkHeads('gone', 1, device.id), []);
  });
});
