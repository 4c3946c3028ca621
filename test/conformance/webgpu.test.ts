import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { type Agent, createAgent } from '../../agent/index.js';
import { ENGINES, loadProfiles, type TensorMap, tensorToJson } from '../../inference/index.js';
import type { Manifest } from '../../shared/index.js';
import { agentTestConfig, FaultProxy, tempDir, testLogger } from '../helpers/agent.js';
import { maxAbsDiff, writeModel } from '../helpers/models.js';
import { rawOnnx } from './raw.js';
import { zooFile, zooInputs, zooModel } from './zoo.js';

// onnx:webgpu for real, on the software Vulkan adapter of Debian's mesa-vulkan-drivers
// (lavapipe): admitted and serving where its outputs agree with a reference computed by raw
// onnxruntime-node on the CPU, refused at the reference stage where they do not. WebGPU
// sessions compile shaders for seconds, so this covers two small zoo models only.

const TOLERANCE = { abs: 1e-4, rel: 1e-3 };
const NO_ADAPTER =
  'onnx:webgpu found no WebGPU adapter. Install a software Vulkan adapter: ' +
  'apt-get install -y -t bookworm-backports mesa-vulkan-drivers (Debian bookworm-backports)';

/** A reference: seeded inputs at real shapes and raw onnxruntime-node CPU outputs. */
async function referenceOf(id: string): Promise<NonNullable<Manifest['reference']>> {
  const model = zooModel(id);
  const raw = await rawOnnx(zooFile(model));
  const inputs = zooInputs(model, 7);
  const outputs = await raw.run(inputs);
  await raw.close();
  const json = (m: TensorMap) => Object.fromEntries(Object.entries(m).map(([k, v]) => [k, tensorToJson(v)]));
  return { inputs: json(inputs), outputs: json(outputs), tolerance: TOLERANCE };
}

describe('onnx:webgpu on a software Vulkan adapter', { concurrency: 1 }, () => {
  const dir = tempDir('outpost-webgpu-');
  const proxy = new FaultProxy();
  let agent: Agent;

  before(async () => {
    const wakeword = zooModel('wakeword-hello-deepa');
    try {
      const probe = await ENGINES['onnx:webgpu'].load(
        { format: 'onnx', bytes: readFileSync(zooFile(wakeword)) },
        { intraOpThreads: 1, interOpThreads: 1, options: {}, log: pino({ level: 'silent' }) },
      );
      await probe.close();
    } catch (err) {
      assert.fail(`${NO_ADAPTER}\n(onnxruntime said: ${(err as Error).message})`);
    }
    const base = loadProfiles().find((p) => p.name === 'x86-64-cpu');
    const profilesDir = join(dir.path, 'profiles');
    writeModel(
      profilesDir,
      'webgpu-first.json',
      JSON.stringify({ ...base, name: 'webgpu-first', engines: ['onnx:webgpu', 'onnx:cpu'] }),
    );
    agent = await createAgent(
      agentTestConfig({
        deviceId: 'dev-webgpu',
        deviceSecret: 'a-device-secret-of-some-length',
        dataDir: join(dir.path, 'agent'),
        hub: { mqttUrl: await proxy.listen() },
        inference: { profile: 'webgpu-first', profilesDir, threads: 1, cacheMaxBytes: 0 },
      }),
      { logger: testLogger() },
    );
  });
  after(async () => {
    await agent?.close();
    await proxy.close();
    dir.remove();
  });

  it('the x86-64-cuda and browser-webgpu profiles list onnx:webgpu', () => {
    const profiles = loadProfiles();
    for (const name of ['x86-64-cuda', 'browser-webgpu']) {
      assert.ok(profiles.find((p) => p.name === name)?.engines.includes('onnx:webgpu'), name);
    }
  });

  it('admits and serves the keyword spotter, whose WebGPU outputs agree with the CPU reference', async () => {
    const model = zooModel('wakeword-hello-deepa');
    const reference = await referenceOf(model.id);
    const listing = await agent.models.install({
      file: zooFile(model),
      name: model.id,
      version: '1.0.0',
      reference,
    });
    assert.equal(listing.active?.engine, 'onnx:webgpu', JSON.stringify(listing.active?.rejected));
    assert.equal(listing.active?.warmup?.source, 'reference');
    const inputs = zooInputs(model, 11);
    const raw = await rawOnnx(zooFile(model));
    const want = await raw.run(inputs);
    await raw.close();
    const got = await agent.models.infer(model.id, inputs, { cache: false });
    assert.equal(got.engine, 'onnx:webgpu');
    for (const [name, w] of Object.entries(want)) {
      const diff = maxAbsDiff(got.outputs[name]?.data as Float32Array, w.data as Float32Array);
      assert.ok(diff <= TOLERANCE.abs, `${name}: max abs diff ${diff}`);
    }
  });

  it('refuses WebGPU at the reference stage for Silero VAD v5 (its state drifts) and admits onnx:cpu', async () => {
    const model = zooModel('silero-vad-v5-op18');
    const listing = await agent.models.install({
      file: zooFile(model),
      name: model.id,
      version: '1.0.0',
      reference: await referenceOf(model.id),
    });
    assert.equal(listing.active?.engine, 'onnx:cpu');
    const [rejected] = listing.active?.rejected ?? [];
    assert.equal(rejected?.engine, 'onnx:webgpu');
    assert.equal(rejected?.stage, 'reference');
    assert.equal(rejected?.mismatch?.output, 'stateN');
    assert.ok((rejected?.mismatch?.maxAbsDiff ?? 0) > TOLERANCE.abs, rejected?.reason);
  });
});
