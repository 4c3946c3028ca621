import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type Agent, AgentConfigSchema, createAgent } from '../../../agent/index.js';
import {
  decodeTensors,
  encodeTensors,
  OnnxModelBuilder,
  TENSOR_MEDIA_TYPE,
} from '../../../inference/index.js';
import { agentTestConfig, tempDir, testLogger } from '../../helpers/agent.js';
import { seededFloats, writeModel } from '../../helpers/models.js';

// The local API's JSON answers are bounded (api.jsonMaxOutputElements): above the limit the
// answer is INFER_OUTPUT_TOO_LARGE_FOR_JSON pointing to the binary form, which a JSON request
// gets with `Accept: application/vnd.outpost.tensors`.

/** y = 2·x for x [1, n]: as many output elements as input elements. */
function doubler(): Uint8Array {
  return new OnnxModelBuilder('doubler')
    .input('x', 'float32', [1, 'n'])
    .initializer('two', { dtype: 'float32', dims: [], data: Float32Array.of(2) })
    .node('Mul', ['x', 'two'], ['y'])
    .output('y', 'float32', [1, 'n'])
    .build();
}

const LIMIT = 100;
const values = (n: number) => Array.from(seededFloats(n, n));
const jsonInput = (n: number) => ({ x: { dtype: 'float32', dims: [1, n], data: values(n) } });
const doubled = (n: number) => values(n).map((v) => Math.fround(Math.fround(v) * 2));

describe('local API: JSON answer limit and binary answers to JSON requests', () => {
  const dir = tempDir();
  let agent: Agent;
  let url: string;
  before(async () => {
    const file = writeModel(join(dir.path, 'in'), 'doubler.onnx', doubler());
    agent = await createAgent(
      agentTestConfig({
        deviceId: 'dev-json-limit',
        deviceSecret: 'a-device-secret-of-some-length',
        dataDir: join(dir.path, 'agent'),
        hub: { mqttUrl: 'mqtt://127.0.0.1:1' },
        api: { port: 0, jsonMaxOutputElements: LIMIT },
        inference: { profile: 'x86-64-cpu', threads: 1 },
      }),
      { logger: testLogger() },
    );
    await agent.models.install({ file, name: 'doubler', version: '1.0.0' });
    url = `${agent.api.url}/v1/models/doubler/infer`;
  });
  after(async () => {
    await agent.close();
    dir.remove();
  });

  const postJson = (body: unknown, accept?: string) =>
    fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(accept ? { accept } : {}) },
      body: JSON.stringify(body),
    });

  it('answers JSON up to the limit', async () => {
    const res = await postJson({ inputs: jsonInput(LIMIT) });
    assert.equal(res.status, 200);
    const body = (await res.json()) as { outputs: { y: { dims: number[]; data: number[] } } };
    assert.deepEqual(body.outputs.y.dims, [1, LIMIT]);
    assert.deepEqual(body.outputs.y.data, doubled(LIMIT));
  });

  it('refuses a JSON answer over the limit with a code that points to the binary form', async () => {
    const res = await postJson({ inputs: jsonInput(LIMIT + 1) });
    assert.equal(res.status, 406);
    const { error } = (await res.json()) as { error: { code: string; message: string } };
    assert.equal(error.code, 'INFER_OUTPUT_TOO_LARGE_FOR_JSON');
    assert.match(
      error.message,
      /101 elements, over the JSON answer limit of 100 \(api\.jsonMaxOutputElements\)/,
    );
    assert.ok(error.message.includes(`Accept: ${TENSOR_MEDIA_TYPE}`), error.message);
  });

  it('answers a JSON request in binary when Accept asks for it, whatever the size', async () => {
    const res = await postJson({ inputs: jsonInput(LIMIT + 1) }, TENSOR_MEDIA_TYPE);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), TENSOR_MEDIA_TYPE);
    const { tensors, extra } = decodeTensors(new Uint8Array(await res.arrayBuffer()));
    assert.equal(extra.model, 'doubler');
    assert.equal(extra.engine, 'onnx:cpu');
    assert.deepEqual(tensors.y?.dims, [1, LIMIT + 1]);
    assert.deepEqual(Array.from(tensors.y?.data as Float32Array), doubled(LIMIT + 1));
  });

  it('a binary request is answered in binary over the limit, and refused when it asks for JSON', async () => {
    const body = encodeTensors({
      x: { dtype: 'float32', dims: [1, LIMIT + 1], data: Float32Array.from(values(LIMIT + 1)) },
    });
    const binary = await fetch(url, { method: 'POST', headers: { 'content-type': TENSOR_MEDIA_TYPE }, body });
    assert.equal(binary.status, 200);
    const { tensors } = decodeTensors(new Uint8Array(await binary.arrayBuffer()));
    assert.deepEqual(Array.from(tensors.y?.data as Float32Array), doubled(LIMIT + 1));
    const json = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': TENSOR_MEDIA_TYPE, accept: 'application/json' },
      body,
    });
    assert.equal(json.status, 406);
    assert.equal(
      ((await json.json()) as { error: { code: string } }).error.code,
      'INFER_OUTPUT_TOO_LARGE_FOR_JSON',
    );
  });

  it('a batch counts the outputs of all its sets', async () => {
    const res = await postJson({ batch: [jsonInput(60), jsonInput(60)] });
    assert.equal(res.status, 406);
    const { error } = (await res.json()) as { error: { code: string; message: string } };
    assert.equal(error.code, 'INFER_OUTPUT_TOO_LARGE_FOR_JSON');
    assert.match(error.message, /120 elements/);
    assert.match(error.message, /one at a time/);
    const small = await postJson({ batch: [jsonInput(50), jsonInput(50)] });
    assert.equal(small.status, 200);
  });

  it('bad input is still refused naming the tensor, in either form', async () => {
    const res = await postJson(
      { inputs: { x: { dtype: 'float32', dims: [2, 3], data: values(6) } } },
      TENSOR_MEDIA_TYPE,
    );
    assert.equal(res.status, 400);
    const { error } = (await res.json()) as { error: { code: string; message: string } };
    assert.equal(error.code, 'INFER_BAD_INPUT');
    assert.match(error.message, /input "x": expected dim 0 = 1/);
  });

  it('the limit is a positive integer in the agent config', () => {
    const base = {
      deviceId: 'd',
      deviceSecret: 'a-device-secret-of-some-length',
      hub: { mqttUrl: 'mqtt://h:1' },
    };
    assert.equal(AgentConfigSchema.parse(base).api.jsonMaxOutputElements, 65_536);
    assert.throws(() => AgentConfigSchema.parse({ ...base, api: { jsonMaxOutputElements: 0 } }));
  });
});
