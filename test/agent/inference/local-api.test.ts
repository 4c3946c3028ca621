import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { type Agent, createAgent } from '../../../agent/index.js';
import {
  decodeTensors,
  ENGINES,
  encodeTensors,
  loadProfiles,
  TENSOR_MEDIA_TYPE,
  tensorToJson,
} from '../../../inference/index.js';
import { agentTestConfig, FaultProxy, tempDir } from '../../helpers/agent.js';
import { classifierModel, f32, geluModel, matmulBias, maxAbsDiff, writeModel } from '../../helpers/models.js';

// Through the agent: install from a local file, admission over a
// profile whose GPU engines are really absent here and whose onnx:cpu option really changes
// the numbers, then the local inference API (JSON, binary, batch) and its errors.

const X = [0.9, -1.3, 0.4, 2.1, -0.7, 0.2, 1.6, -2.2];

async function call(agent: Agent, method: string, path: string, body?: unknown) {
  const res = await fetch(`${agent.api.url}${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  // biome-ignore lint/suspicious/noExplicitAny: tests read arbitrary JSON
  return { status: res.status, body: (await res.json()) as any };
}

describe('agent local inference API', () => {
  const dir = tempDir();
  const proxy = new FaultProxy();
  const logs: Array<Record<string, unknown>> = [];
  let agent: Agent;
  let geluFile: string;
  let classifierFile: string;
  const classifier = classifierModel(11);

  before(async () => {
    // A profile like x86-64-cuda's engine order (without onnx:webgpu, which runs here on a
    // software adapter and is tested in test/conformance/), with onnx:cpu set to approximate GELU.
    const profilesDir = join(dir.path, 'profiles');
    const base = loadProfiles().find((p) => p.name === 'x86-64-cuda');
    writeModel(
      profilesDir,
      'test-gpu.json',
      JSON.stringify({
        ...base,
        name: 'test-gpu',
        engines: ['onnx:tensorrt', 'onnx:cuda', 'onnx:cpu', 'onnx-web:wasm'],
        engineOptions: { 'onnx:cpu': { approximateGelu: true } },
        threads: { intraOp: 1, interOp: 1 },
      }),
    );
    geluFile = writeModel(join(dir.path, 'in'), 'gelu.onnx', geluModel());
    classifierFile = writeModel(join(dir.path, 'in'), 'classifier.onnx', classifier.bytes);
    const mqttUrl = await proxy.listen();
    const stream = { write: (line: string) => logs.push(JSON.parse(line) as Record<string, unknown>) };
    agent = await createAgent(
      agentTestConfig({
        deviceId: 'dev-infer',
        deviceSecret: 'a-device-secret-of-some-length',
        dataDir: join(dir.path, 'agent'),
        hub: { mqttUrl },
        inference: { profile: 'test-gpu', profilesDir },
      }),
      { logger: pino({ level: 'warn' }, stream) },
    );
  });
  after(async () => {
    await agent.close();
    await proxy.close();
    dir.remove();
  });

  it('installs a model from a file and admits the first engine that reproduces the reference', async () => {
    const exact = await ENGINES['onnx:cpu'].load(
      { format: 'onnx', bytes: geluModel() },
      { intraOpThreads: 1, interOpThreads: 1, options: {}, log: pino({ level: 'silent' }) },
    );
    const refOut = await exact.run({ x: f32([2, 4], X) });
    await exact.close();
    const reference = {
      inputs: { x: tensorToJson(f32([2, 4], X)) },
      outputs: { y: tensorToJson(refOut.y as never) },
      tolerance: { abs: 1e-6, rel: 1e-6 },
    };
    const res = await call(agent, 'POST', '/v1/models', {
      file: geluFile,
      name: 'gelu',
      version: '1.0.0',
      reference,
    });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assert.equal(res.body.active.engine, 'onnx-web:wasm');
    assert.deepEqual(
      res.body.active.rejected.map((r: { engine: string; stage: string }) => `${r.engine}/${r.stage}`),
      ['onnx:tensorrt/load', 'onnx:cuda/load', 'onnx:cpu/reference'],
    );
    assert.match(res.body.active.rejected[0].reason, /Failed to load shared library/);
    assert.equal(res.body.active.rejected[2].mismatch.output, 'y');
    assert.deepEqual(res.body.active.inputs, [{ name: 'x', dtype: 'float32', shape: ['batch', 4] }]);
    assert.equal(res.body.installed[0].sha256, createHash('sha256').update(geluModel()).digest('hex'));
  });

  it('shows the chosen engine and the rejections in GET /v1/status and warns once per fallback', async () => {
    const status = await call(agent, 'GET', '/v1/status');
    const gelu = status.body.inference.models.find((m: { name: string }) => m.name === 'gelu');
    assert.equal(gelu.engine, 'onnx-web:wasm');
    assert.equal(gelu.rejected.length, 3);
    assert.deepEqual(status.body.inference.profile, {
      name: 'test-gpu',
      source: 'config',
      reason: 'set by inference.profile',
    });
    const warned = logs.filter((l) => l.level === 40 && l.model === 'gelu@1.0.0/fp32').map((l) => l.engine);
    assert.deepEqual(warned, ['onnx:tensorrt', 'onnx:cuda', 'onnx:cpu']);
  });

  it('answers JSON inference, batches, and the binary tensor form', async () => {
    await agent.models.install({ file: classifierFile, name: 'classifier', version: '1.0.0' });
    const expected = matmulBias(X, 2, 4, classifier.w, 3, classifier.b);
    const json = await call(agent, 'POST', '/v1/models/classifier/infer', {
      inputs: { x: tensorToJson(f32([2, 4], X)) },
    });
    assert.equal(json.status, 200, JSON.stringify(json.body));
    assert.equal(json.body.engine, 'onnx:cpu');
    assert.deepEqual(json.body.outputs.logits.dims, [2, 3]);
    assert.ok(maxAbsDiff(json.body.outputs.logits.data, expected) < 1e-5);

    const batch = await call(agent, 'POST', '/v1/models/classifier/infer', {
      batch: [{ x: tensorToJson(f32([1, 4], X.slice(0, 4))) }, { x: tensorToJson(f32([1, 4], X.slice(4))) }],
    });
    assert.equal(batch.status, 200);
    assert.equal(batch.body.results.length, 2);
    assert.ok(maxAbsDiff(batch.body.results[1].outputs.logits.data, expected.slice(3)) < 1e-5);

    const res = await fetch(`${agent.api.url}/v1/models/classifier/infer`, {
      method: 'POST',
      headers: { 'content-type': TENSOR_MEDIA_TYPE },
      body: encodeTensors({ x: f32([2, 4], X) }),
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), TENSOR_MEDIA_TYPE);
    const decoded = decodeTensors(new Uint8Array(await res.arrayBuffer()));
    assert.equal(decoded.extra.model, 'classifier');
    assert.ok(maxAbsDiff(decoded.tensors.logits?.data as Float32Array, expected) < 1e-5);
  });

  it('a wrong tensor name, dtype or shape is a 400 naming the tensor, the expected and the received', async () => {
    const wrong = [
      [
        { X: tensorToJson(f32([1, 4], [0, 0, 0, 0])) },
        /input "x": expected float32 \[batch, 4\], received nothing \(missing\)/,
      ],
      [
        { x: { dtype: 'int32', dims: [1, 4], data: [0, 0, 0, 0] } },
        /input "x": expected dtype float32, received dtype int32/,
      ],
      [
        { x: tensorToJson(f32([1, 3], [0, 0, 0])) },
        /input "x": expected dim 1 = 4 in \[batch, 4\], received 3 in \[1, 3\]/,
      ],
    ] as const;
    for (const [inputs, pattern] of wrong) {
      const res = await call(agent, 'POST', '/v1/models/classifier/infer', { inputs });
      assert.equal(res.status, 400);
      assert.equal(res.body.error.code, 'INFER_BAD_INPUT');
      assert.match(res.body.error.message, pattern);
    }
    const binary = await fetch(`${agent.api.url}/v1/models/classifier/infer`, {
      method: 'POST',
      headers: { 'content-type': TENSOR_MEDIA_TYPE },
      body: Buffer.from('garbage!'),
    });
    assert.equal(binary.status, 400);
    assert.match(((await binary.json()) as { error: { message: string } }).error.message, /OTB1/);
  });

  it('refuses a file whose sha256 differs, an unknown model, and names what is wrong', async () => {
    const bad = await call(agent, 'POST', '/v1/models', {
      file: classifierFile,
      name: 'classifier',
      version: '1.0.1',
      sha256: 'a'.repeat(64),
    });
    assert.equal(bad.status, 422);
    assert.match(bad.body.error.message, /sha256 mismatch .* expected a{64}, the file has [0-9a-f]{64}/);
    const manifestLie = await call(agent, 'POST', '/v1/models', {
      file: classifierFile,
      manifest: {
        schema: 'outpost.manifest/v1',
        name: 'classifier',
        version: '1.0.2',
        format: 'onnx',
        precision: 'fp32',
        sha256: createHash('sha256').update(classifier.bytes).digest('hex'),
        size: classifier.bytes.byteLength,
        inputs: [{ name: 'image', dtype: 'float32', shape: [1, 4] }],
        outputs: [{ name: 'logits', dtype: 'float16', shape: [1, 3] }],
        createdAt: 1,
      },
    });
    assert.equal(manifestLie.status, 422);
    assert.match(
      manifestLie.body.error.message,
      /manifest input "image" is not in the model .*manifest output "logits": manifest says float16, model has float32/,
    );
    const missing = await call(agent, 'POST', '/v1/models/nope/infer', { inputs: {} });
    assert.equal(missing.status, 404);
    assert.equal(missing.body.error.code, 'INFER_MODEL_NOT_FOUND');
    const notFile = await call(agent, 'POST', '/v1/models', {
      file: join(dir.path, 'absent.onnx'),
      name: 'x',
      version: '1.0.0',
    });
    assert.equal(notFile.status, 422);
    assert.match(notFile.body.error.message, /cannot read model file .*absent\.onnx/);
  });

  it('GET /v1/models lists installed versions, the active one and the policy', async () => {
    const res = await call(agent, 'GET', '/v1/models');
    assert.equal(res.status, 200);
    assert.deepEqual(
      res.body.models.map((m: { name: string }) => m.name),
      ['classifier', 'gelu'],
    );
    const c = res.body.models[0];
    assert.equal(c.active.version, '1.0.0');
    assert.deepEqual(c.policy, { upload: 'none', sampleRate: 0.1, cache: true, preprocessing: '' });
    assert.deepEqual(agent.models.list(), res.body.models);
  });
});
