import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { encodeUpdate, SecAggServer } from '../../federated/index.js';
import { withTask } from '../../hub/federated/sections.js';
import type { Hub } from '../../hub/index.js';
import { signFlWeights } from '../../shared/index.js';
import {
  FL_UPDATE_UPLOAD,
  FL_UPLOAD_PART_BYTES,
  type FlTask,
  flUploadPath,
} from '../../shared/messages/federated.js';
import { Cleanups, type Credentials, enroll, startHub, tempDir } from '../helpers/hub.js';

// The device side of weights as artifacts at the HTTP level: resumable update uploads (who may
// upload, offsets, parts sent twice, a whole that hashes otherwise) and who may read a round's
// global weights.

const MiB = FL_UPLOAD_PART_BYTES;
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const shapes = [{ name: 'w', shape: [400_000] }];
const basic = (c: Credentials) => `Basic ${Buffer.from(`${c.id}:${c.secret}`).toString('base64')}`;

describe('federated uploads and global-weights artifacts', () => {
  const cleanups = new Cleanups();
  let hub: Hub;
  let a: Credentials;
  let b: Credentials;
  let c: Credentials;
  const update = randomBytes(MiB + MiB / 2);

  const call = async (
    who: Credentials | 'admin',
    method: string,
    path: string,
    part?: { offset: number; bytes: Uint8Array; length?: number; sha256?: string },
  ) => {
    const headers: Record<string, string> = {
      authorization: who === 'admin' ? `Bearer ${hub.adminToken}` : basic(who),
    };
    if (part) {
      headers['content-type'] = 'application/offset+octet-stream';
      headers['upload-offset'] = String(part.offset);
      headers['upload-length'] = String(part.length ?? update.length);
      headers['upload-sha256'] = part.sha256 ?? sha(update);
    }
    const res = await fetch(`${hub.http.url}${path}`, {
      method,
      headers,
      ...(part ? { body: part.bytes } : {}),
    });
    const text = await res.text();
    return {
      status: res.status,
      offset: res.headers.get('upload-offset'),
      complete: res.headers.get('upload-complete'),
      code: text === '' ? undefined : (JSON.parse(text).error?.code as string | undefined),
    };
  };

  before(async () => {
    const dir = tempDir('outpost-fl-uploads-');
    cleanups.push(() => dir.remove());
    hub = await startHub(dir.path);
    cleanups.push(() => hub.close());
    [a, b, c] = [await enroll(hub), await enroll(hub), await enroll(hub)];
    const task = (id: string, spec: Record<string, unknown> = {}) => ({
      id,
      spec: { mode: 'sync', shapes, maxStaleness: 5, ...spec },
      status: 'running' as const,
      round: 1,
      serverState: null,
      best: null,
      reason: null,
      createdAt: 1,
      updatedAt: 1,
    });
    const weights = encodeUpdate([{ name: 'w', shape: [400_000], values: new Float32Array(400_000) }]);
    for (const [id, spec] of [
      ['up', {}],
      ['closed', {}],
      ['secure', { secagg: { threshold: 2 } }],
    ] as const) {
      await hub.store.createFlTask(task(id, spec), weights);
      // Opened here (no device is online, so the runner cannot open it itself).
      const round = {
        taskId: id,
        round: 1,
        status: 'open' as const,
        selected: [a.id, c.id].sort(),
        openedAt: 1,
        deadline: Date.now() + 3_600_000,
        closedAt: null,
        metrics: {},
      };
      if (id !== 'secure') await hub.store.openFlRound(round);
      else {
        // With its protocol state (waiting for advertisements), as a secure round opens.
        const params = new SecAggServer({ round: 1, threshold: 2, length: 400_001, maxClients: 2 }).params;
        const flTask = { id, round: 1, shapes } as unknown as FlTask;
        await hub.store.openSecAggRound(round, {
          phase: 'advertise',
          phaseAt: 1,
          params,
          maxExamples: 100,
          task: flTask,
        });
      }
    }
    await hub.store.closeFlRound({
      taskId: 'closed',
      round: 1,
      status: 'failed',
      closedAt: 2,
      metrics: {},
      updates: [],
      task: { round: 2 },
    });
  });
  after(() => cleanups.run());

  it('takes parts in order, each once, from the selected device only', async () => {
    const path = flUploadPath('up', 1);
    assert.equal((await call('admin', 'HEAD', path)).status, 403);
    assert.equal((await call(b, 'HEAD', path)).status, 403, 'not selected');
    assert.equal(
      (await call(b, 'PATCH', path, { offset: 0, bytes: update.subarray(0, MiB) })).code,
      'HUB_FORBIDDEN',
    );
    assert.deepEqual(await call(a, 'HEAD', path), {
      status: 200,
      offset: '0',
      complete: 'false',
      code: undefined,
    });

    const first = await call(a, 'PATCH', path, { offset: 0, bytes: update.subarray(0, MiB) });
    assert.deepEqual([first.status, first.offset, first.complete], [204, String(MiB), 'false']);
    const again = await call(a, 'PATCH', path, { offset: 0, bytes: update.subarray(0, MiB) });
    assert.deepEqual([again.status, again.offset], [204, String(MiB)], 'a part sent twice changes nothing');
    const short = await call(a, 'PATCH', path, { offset: MiB, bytes: update.subarray(MiB, MiB + 10) });
    assert.equal(short.code, 'HUB_BAD_REQUEST', 'a part holds exactly its bytes');
    const last = await call(a, 'PATCH', path, { offset: MiB, bytes: update.subarray(MiB) });
    assert.deepEqual([last.status, last.offset, last.complete], [204, String(update.length), 'true']);
    const heads = await hub.store.getFlChunkHeads('up', 1, a.id);
    assert.deepEqual(
      heads.map((h) => [h.index, h.total, h.size]),
      [
        [1, 3, MiB],
        [2, 3, MiB / 2],
      ],
    );
    // Complete once the update's event is filed too (chunk 0), and then counted once.
    const parts = (await hub.store.listFlPending('up', 1)).map((p) => [p.deviceId, p.chunks, p.total]);
    assert.deepEqual(parts, [[a.id, 2, 3]]);
    const event = {
      seq: 1,
      type: FL_UPDATE_UPLOAD,
      at: Date.now(),
      body: {
        task: 'up',
        round: 1,
        sha256: sha(update),
        size: update.length,
        examples: 7,
        norm: 1,
        clipped: false,
        loss: 1,
        accuracy: 0.5,
      },
    };
    await hub.federated.ingest.handle(a.id, [event, event] as never);
    const pending = await hub.store.listFlPending('up', 1);
    assert.deepEqual(
      pending.map((p) => [p.deviceId, p.chunks, p.total]),
      [[a.id, 3, 3]],
    );
  });

  it('resumes at the held offset, and starts over when the whole hashes otherwise', async () => {
    const path = flUploadPath('up', 1);
    const skip = await call(c, 'PATCH', path, { offset: MiB, bytes: update.subarray(MiB) });
    assert.equal(skip.code, 'FL_UPLOAD_OFFSET', 'no gap');
    const wrong = sha(Buffer.from('other'));
    assert.equal(
      (await call(c, 'PATCH', path, { offset: 0, bytes: update.subarray(0, MiB), sha256: wrong })).status,
      204,
    );
    const bad = await call(c, 'PATCH', path, { offset: MiB, bytes: update.subarray(MiB), sha256: wrong });
    assert.equal(bad.code, 'FL_BAD_UPDATE');
    assert.equal((await call(c, 'HEAD', path)).offset, '0', 'every part dropped');
    assert.deepEqual(await hub.store.getFlChunkHeads('up', 1, c.id), []);
  });

  it('refuses uploads once the round took no more updates, and for unknown rounds', async () => {
    const part = { offset: 0, bytes: update.subarray(0, MiB) };
    assert.equal((await call(a, 'PATCH', flUploadPath('closed', 1), part)).code, 'FL_UPLOAD_REFUSED');
    assert.equal((await call(a, 'PATCH', flUploadPath('none', 1), part)).code, 'HUB_NOT_FOUND');
  });

  it('takes a secure round masked input as an upload of exactly one word per value', async () => {
    const path = flUploadPath('secure', 1);
    // Any other size is refused: a masked input is 400 000 words plus the weight.
    const other = await call(a, 'PATCH', path, { offset: 0, bytes: update.subarray(0, MiB) });
    assert.equal(other.code, 'FL_UPLOAD_REFUSED');
    const masked = randomBytes(4 * (400_000 + 1));
    const whole = { length: masked.length, sha256: sha(masked) };
    const first = await call(a, 'PATCH', path, { offset: 0, bytes: masked.subarray(0, MiB), ...whole });
    assert.deepEqual([first.status, first.complete], [204, 'false']);
    const last = await call(a, 'PATCH', path, { offset: MiB, bytes: masked.subarray(MiB), ...whole });
    assert.deepEqual([last.status, last.offset, last.complete], [204, String(masked.length), 'true']);
    const body = { task: 'secure', round: 1, ...whole, size: masked.length, examples: 3 };
    const figures = { norm: 1, clipped: false, loss: 1, accuracy: 0.5 };
    const event = (seq: number, size: number) => ({
      seq,
      type: FL_UPDATE_UPLOAD,
      at: Date.now(),
      body: { ...body, size, ...figures },
    });
    // An event naming another size is not filed; the right one completes the update, once.
    await hub.federated.ingest.handle(a.id, [event(1, masked.length - 4)] as never);
    assert.deepEqual(
      (await hub.store.listFlPending('secure', 1)).map((p) => [p.chunks, p.total]),
      [[2, 3]],
    );
    await hub.federated.ingest.handle(a.id, [event(2, masked.length), event(2, masked.length)] as never);
    assert.deepEqual(
      (await hub.store.listFlPending('secure', 1)).map((p) => [p.deviceId, p.chunks, p.total]),
      [[a.id, 3, 3]],
    );
  });

  it('serves a round global artifact to the devices whose task names it, written from the store', async () => {
    const weights = (await hub.store.getFlWeights('up', 1)) as Uint8Array;
    const ref = signFlWeights(
      'up',
      1,
      { sha256: sha(weights), size: weights.length },
      hub.delivery.registry.signingKey.keys,
    );
    const flTask = {
      id: 'up',
      round: 1,
      mode: 'sync',
      model: { name: 'm', version: '1.0.0' },
      topology: {},
      shapes,
      weightsArtifact: ref,
      lr: 0.1,
      epochs: 1,
      batchSize: 1,
      clipNorm: 1,
      compression: { kind: 'none' },
      deadline: Date.now() + 60_000,
      evaluate: false,
      seed: 1,
    } as FlTask;
    await hub.delivery.desired.update([a.id], (current) => withTask(current, flTask));
    const url = `${hub.http.url}/v1/artifacts/${ref.sha256}`;
    // Not on this hub's disk (published elsewhere): written from the store on first request.
    assert.equal(await hub.delivery.registry.artifacts.stat(ref.sha256), undefined);
    const got = await fetch(url, { headers: { authorization: basic(a), range: 'bytes=10-' } });
    assert.equal(got.status, 206);
    assert.deepEqual(new Uint8Array(await got.arrayBuffer()), weights.subarray(10));
    const other = await fetch(url, { headers: { authorization: basic(b) } });
    assert.equal(other.status, 404, 'a device whose task does not name it');
    await other.body?.cancel();
  });
});
