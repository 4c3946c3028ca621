import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Hub } from '../../hub/index.js';
import { ENGINES, tensorToJson } from '../../inference/index.js';
import { testLogger } from '../helpers/agent.js';
import { api, type Credentials, enroll, startHub, tempDir } from '../helpers/hub.js';
import { classifierModel, maxAbsDiff, values } from '../helpers/models.js';

// The cloud side: the hub serves POST /v1/infer/:name on the same engine
// code as the agents, to the admin or to a device with its own id and secret.

const X = [0.9, -1.3, 0.4, 2.1];
const body = { inputs: { x: { dtype: 'float32', dims: [1, 4], data: X } } };

async function infer(hub: Hub, name: string, payload: unknown, authorization?: string) {
  const res = await fetch(`${hub.http.url}/v1/infer/${name}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) },
    body: JSON.stringify(payload),
  });
  // biome-ignore lint/suspicious/noExplicitAny: tests read arbitrary JSON
  return { status: res.status, headers: res.headers, body: (await res.json()) as any };
}

const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;

describe('hub cloud inference', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let hub: Hub;
  let device: Credentials;
  const model = classifierModel(21);

  before(async () => {
    dir = await tempDir();
    // One model from the config, one dropped into {dataDir}/models, one that is not ONNX.
    const file = join(dir.path, 'classifier.onnx');
    writeFileSync(file, model.bytes);
    mkdirSync(join(dir.path, 'data', 'models'), { recursive: true });
    writeFileSync(join(dir.path, 'data', 'models', 'dropped.onnx'), model.bytes);
    writeFileSync(join(dir.path, 'data', 'models', 'broken.onnx'), 'not a model');
    hub = await startHub(
      join(dir.path, 'data'),
      { inference: { models: [{ name: 'big', file, version: '2.0.0' }] } },
      { logger: testLogger() },
    );
    device = await enroll(hub);
  });
  after(async () => {
    await hub.close();
    await dir.remove();
  });

  it('answers a device that sends its id and secret, with the outputs of the same engine code', async () => {
    const res = await infer(hub, 'big', body, basic(device.id, device.secret));
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.model, 'big');
    assert.equal(res.body.version, '2.0.0');
    assert.equal(res.body.engine, 'onnx:cpu');
    const local = await ENGINES['onnx:cpu'].load(
      { format: 'onnx', bytes: model.bytes },
      { intraOpThreads: 1, interOpThreads: 1, options: {}, log: testLogger() },
    );
    const expected = await local.run({ x: { dtype: 'float32', dims: [1, 4], data: Float32Array.from(X) } });
    await local.close();
    assert.deepEqual(res.body.outputs.probs, tensorToJson(expected.probs as never));
    assert.ok(maxAbsDiff(res.body.outputs.logits.data, values(expected.logits)) === 0);
    // Again: the verified secret is remembered, the answer is the same.
    const again = await infer(hub, 'big', body, basic(device.id, device.secret));
    assert.deepEqual(again.body.outputs, res.body.outputs);
  });

  it('answers the admin token, and serves models dropped in the data dir', async () => {
    const res = await infer(hub, 'dropped', body, `Bearer ${hub.adminToken}`);
    assert.equal(res.status, 200);
    assert.equal(res.body.version, '1.0.0');
    const list = await api(hub, 'GET', '/v1/infer');
    assert.deepEqual(
      // biome-ignore lint/suspicious/noExplicitAny: tests read arbitrary JSON
      list.body.models.map((m: any) => `${m.name}:${m.engine}`).sort(),
      ['big:onnx:cpu', 'broken:null', 'dropped:onnx:cpu'],
    );
  });

  it('refuses missing, wrong and unknown credentials with 401 and a Basic challenge', async () => {
    const none = await infer(hub, 'big', body);
    assert.equal(none.status, 401);
    assert.equal(none.body.error.code, 'HUB_UNAUTHORIZED');
    assert.match(none.headers.get('www-authenticate') ?? '', /Basic/);
    const wrong = await infer(hub, 'big', body, basic(device.id, 'not-the-secret-of-this-device'));
    assert.equal(wrong.status, 401);
    assert.match(wrong.body.error.message, /wrong device secret/);
    const unknown = await infer(hub, 'big', body, basic('dev-nobody', device.secret));
    assert.equal(unknown.status, 401);
    const badToken = await infer(hub, 'big', body, 'Bearer not-the-admin-token-at-all');
    assert.equal(badToken.status, 401);
    const list = await api(hub, 'GET', '/v1/infer', undefined, null);
    assert.equal(list.status, 401, 'the model list stays admin-only');
  });

  it('names the problem: unknown model, bad tensors, a model no engine admitted', async () => {
    const auth = basic(device.id, device.secret);
    const missing = await infer(hub, 'nothing', body, auth);
    assert.equal(missing.status, 404);
    assert.equal(missing.body.error.code, 'INFER_MODEL_NOT_FOUND');
    const badDims = await infer(
      hub,
      'big',
      { inputs: { x: { dtype: 'float32', dims: [1, 5], data: [1, 2, 3, 4, 5] } } },
      auth,
    );
    assert.equal(badDims.status, 400);
    assert.equal(badDims.body.error.code, 'INFER_BAD_INPUT');
    assert.match(badDims.body.error.message, /"x"|x:|\bx\b/);
    const badName = await infer(hub, 'big', { inputs: { y: body.inputs.x } }, auth);
    assert.equal(badName.status, 400);
    assert.match(badName.body.error.message, /\by\b/);
    const malformed = await infer(hub, 'big', { tensors: {} }, auth);
    assert.equal(malformed.status, 400);
    assert.equal(malformed.body.error.code, 'HUB_BAD_REQUEST');
    const broken = await infer(hub, 'broken', body, auth);
    assert.equal(broken.status, 500);
    assert.equal(broken.body.error.code, 'INFER_NO_ENGINE');
  });
});
