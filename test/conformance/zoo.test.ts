import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type Agent, createAgent } from '../../agent/index.js';
import {
  admitModel,
  decodeTensors,
  encodeTensors,
  type HostTensor,
  readModelSource,
  TENSOR_MEDIA_TYPE,
  type TensorMap,
  tensorFromJson,
  tensorToJson,
} from '../../inference/index.js';
import type { EngineName } from '../../shared/index.js';
import { agentTestConfig, FaultProxy, tempDir, testLogger } from '../helpers/agent.js';
import { repoRoot } from '../helpers/paths.js';
import { type RawModel, rawOnnx, rawTfjs } from './raw.js';
import { ZOO, type ZooModel, zooFile, zooInputs } from './zoo.js';

// Every zoo model, with no extra flags: `outpost models install` (the built CLI against a real
// agent) admits it, and the agent's outputs equal the raw runtime's on seeded inputs at real
// shapes over the local API's JSON and binary forms and in process; stateful models stay
// equal over 20 steps with their state fed back; bad input is a 400 naming the tensor.

const root = repoRoot;
const STEPS = 20;

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(
      process.execPath,
      [join(root, 'dist/cli/main.js'), ...args],
      { cwd: root, timeout: 120_000, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) =>
        done({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr }),
    );
  });
}

function numbers(t: HostTensor): number[] {
  return Array.from(t.data as ArrayLike<number | bigint>, Number);
}

/** Every raw output equals the agent's, element for element (same runtime, same settings). */
function assertSame(label: string, got: TensorMap, want: TensorMap): void {
  assert.deepEqual(Object.keys(got).sort(), Object.keys(want).sort(), `${label}: output names`);
  for (const [name, w] of Object.entries(want)) {
    const g = got[name] as HostTensor;
    assert.deepEqual([g.dtype, [...g.dims]], [w.dtype, [...w.dims]], `${label}: ${name} dtype and dims`);
    const a = numbers(g);
    const b = numbers(w);
    // Equal values; NaN equals NaN; -0 equals 0 (JSON has no -0).
    const i = a.findIndex((v, k) => v !== b[k] && !(Number.isNaN(v) && Number.isNaN(b[k])));
    assert.equal(i, -1, `${label}: ${name}[${i}] is ${a[i]}, raw runtime ${b[i]}`);
  }
}

const toJson = (inputs: TensorMap) =>
  Object.fromEntries(Object.entries(inputs).map(([k, v]) => [k, tensorToJson(v)]));
const fromJson = (outputs: Record<string, never>) =>
  Object.fromEntries(Object.entries(outputs).map(([k, v]) => [k, tensorFromJson(k, v)]));

describe('conformance zoo', { concurrency: 1 }, () => {
  const dir = tempDir('outpost-zoo-');
  const proxy = new FaultProxy();
  let agent: Agent;

  before(async () => {
    agent = await createAgent(
      agentTestConfig({
        deviceId: 'dev-zoo',
        deviceSecret: 'a-device-secret-of-some-length',
        dataDir: join(dir.path, 'agent'),
        hub: { mqttUrl: await proxy.listen() },
        inference: { profile: 'x86-64-cpu', threads: 1, cacheMaxBytes: 0 },
        // Every model's outputs are compared over JSON too, so the JSON answer limit (which
        // steers large outputs to the binary form: test/agent/inference/json-limit.test.ts)
        // is raised above the largest zoo output.
        api: { port: 0, jsonMaxOutputElements: 1_000_000 },
      }),
      { logger: testLogger() },
    );
  });
  after(async () => {
    await agent.close();
    await proxy.close();
    dir.remove();
  });

  async function post(model: ZooModel, body: unknown) {
    const res = await fetch(`${agent.api.url}/v1/models/${model.id}/infer`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    // biome-ignore lint/suspicious/noExplicitAny: tests read arbitrary JSON
    return { status: res.status, body: (await res.json()) as any };
  }

  for (const model of ZOO) {
    it(`${model.id} (${model.kind}, ${model.package}) is admitted and agrees with the raw runtime`, async () => {
      const install = await cli([
        'models',
        'install',
        zooFile(model),
        '--name',
        model.id,
        '--version',
        '1.0.0',
        '--json',
        '--agent',
        agent.api.url,
      ]);
      assert.equal(install.code, 0, install.stderr);
      const listing = JSON.parse(install.stdout);
      const engine = model.format === 'onnx' ? 'onnx:cpu' : 'tfjs:wasm';
      assert.equal(listing.active.engine, engine, JSON.stringify(listing.active));
      assert.equal(listing.active.warmup.source, 'metadata', JSON.stringify(listing.active.warmup));

      const raw: RawModel =
        model.format === 'onnx' ? await rawOnnx(zooFile(model)) : await rawTfjs(zooFile(model));
      try {
        const inputs = zooInputs(model, 1);
        const want = await raw.run(inputs);

        const json = await post(model, { inputs: toJson(inputs), cache: false });
        assert.equal(json.status, 200, JSON.stringify(json.body).slice(0, 500));
        assertSame(`${model.id} over JSON`, fromJson(json.body.outputs), want);

        const res = await fetch(`${agent.api.url}/v1/models/${model.id}/infer`, {
          method: 'POST',
          headers: { 'content-type': TENSOR_MEDIA_TYPE },
          body: encodeTensors(inputs),
        });
        assert.equal(res.status, 200);
        assertSame(
          `${model.id} binary`,
          decodeTensors(new Uint8Array(await res.arrayBuffer())).tensors,
          want,
        );

        const inProcess = await agent.models.infer(model.id, inputs, { cache: false });
        assertSame(`${model.id} in process`, inProcess.outputs, want);

        if (model.state) {
          let ours = inProcess.outputs;
          let theirs = want;
          for (let step = 1; step < STEPS; step++) {
            const next = (outputs: TensorMap): TensorMap => {
              const feed = { ...zooInputs(model, step + 1) };
              for (const s of model.state ?? []) feed[s.input] = outputs[s.output] as HostTensor;
              return feed;
            };
            ours = (await agent.models.infer(model.id, next(ours), { cache: false })).outputs;
            theirs = await raw.run(next(theirs));
            assertSame(`${model.id} step ${step + 1}`, ours, theirs);
          }
        }

        const first = model.inputs[0] as ZooModel['inputs'][number];
        const wrong = {
          ...inputs,
          [first.name]: { ...(inputs[first.name] as HostTensor), dims: [...first.dims, 1] },
        };
        const bad = await post(model, { inputs: toJson(wrong) });
        assert.equal(bad.status, 400);
        assert.equal(bad.body.error.code, 'INFER_BAD_INPUT');
        assert.ok(bad.body.error.message.includes(`"${first.name}"`), bad.body.error.message);
      } finally {
        await raw.close();
      }
    });
  }

  // TF.js's pure-JavaScript backend also runs a graph that needs executeAsync (warmed up on
  // metadata sizes; its outputs are not compared: on random pixels the number of detections
  // left by non-max suppression differs between backends, and real shapes take tens of seconds).
  for (const model of ZOO.filter((m) => m.dynamicOps)) {
    it(`${model.id} is admitted on tfjs:cpu through executeAsync`, async () => {
      const admitted = await admitModel({
        label: model.id,
        source: await readModelSource(zooFile(model)),
        engines: ['tfjs:cpu'],
        settingsFor: () => ({ intraOpThreads: 1, interOpThreads: 1, options: {} }),
        log: testLogger(),
      });
      await admitted.model?.close();
      assert.equal(admitted.model?.engine, 'tfjs:cpu', JSON.stringify(admitted.rejected));
      assert.equal(admitted.warmup?.source, 'metadata');
    });
  }

  // onnx-web:wasm, the portable ONNX engine, admits every ONNX zoo model too, with no extra
  // flags (it reads unnamed dynamic dims as dynamic), and agrees with onnxruntime-node.
  for (const model of ZOO.filter((m) => m.format === 'onnx')) {
    const engine: EngineName = 'onnx-web:wasm';
    it(`${model.id} is admitted on ${engine} and agrees with the raw runtime within 1e-4`, async () => {
      const admitted = await admitModel({
        label: model.id,
        source: await readModelSource(zooFile(model)),
        engines: [engine],
        settingsFor: () => ({ intraOpThreads: 1, interOpThreads: 1, options: {} }),
        log: testLogger(),
      });
      assert.equal(admitted.model?.engine, engine, JSON.stringify(admitted.rejected));
      assert.equal(admitted.warmup?.source, 'metadata');
      const raw = await rawOnnx(zooFile(model));
      try {
        const inputs = zooInputs(model, 2);
        const got = await admitted.model?.run(inputs);
        const want = await raw.run(inputs);
        for (const [name, w] of Object.entries(want)) {
          const g = got?.[name] as HostTensor;
          assert.deepEqual([...g.dims], [...w.dims], name);
          const a = numbers(g);
          const worst = numbers(w).reduce((m, v, i) => Math.max(m, Math.abs(v - (a[i] as number))), 0);
          assert.ok(worst <= 1e-4, `${model.id} ${name}: max abs diff ${worst}`);
        }
      } finally {
        await raw.close();
        await admitted.model?.close();
      }
    });
  }
});
