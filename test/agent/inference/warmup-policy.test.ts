import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type Agent, createAgent } from '../../../agent/index.js';
import { tensorToJson } from '../../../inference/index.js';
import { runCli } from '../../cli/run-cli.js';
import { agentTestConfig, FaultProxy, tempDir, testLogger } from '../../helpers/agent.js';
import { f32, needsRealInputsModel, writeModel } from '../../helpers/models.js';

// A model no input set made from its metadata can run: `models install` admits it on its
// opened session and says so; `--sample FILE` warms it up on real inputs; with
// `inference.unwarmed: refuse` the agent refuses it instead.

describe('warm-up policy', () => {
  const dir = tempDir('outpost-warmup-');
  const proxy = new FaultProxy();
  const agents: Agent[] = [];
  let file: string;
  let mqttUrl: string;
  const start = async (id: string, unwarmed?: 'admit' | 'refuse') => {
    const agent = await createAgent(
      agentTestConfig({
        deviceId: id,
        deviceSecret: 'a-device-secret-of-some-length',
        dataDir: join(dir.path, id),
        hub: { mqttUrl },
        inference: { profile: 'x86-64-cpu', threads: 1, ...(unwarmed ? { unwarmed } : {}) },
      }),
      { logger: testLogger() },
    );
    agents.push(agent);
    return agent;
  };
  before(async () => {
    mqttUrl = await proxy.listen();
    file = writeModel(dir.path, 'needs-1000.onnx', needsRealInputsModel());
  });
  after(async () => {
    for (const a of agents) await a.close();
    await proxy.close();
    dir.remove();
  });

  it('admits an unwarmable version with the reason in install and list output; --sample warms it up', async () => {
    const agent = await start('dev-warm-admit');
    const url = agent.api.url;
    const install = await runCli([
      'models',
      'install',
      file,
      '--name',
      'r',
      '--version',
      '1.0.0',
      '--agent',
      url,
    ]);
    assert.equal(install.code, 0, install.stderr);
    assert.match(
      install.stdout,
      /^r 1\.0\.0\/fp32 on onnx:cpu\n {2}not warmed up: no input set made from the model's metadata ran/,
    );
    const list = await runCli(['models', 'list', '--json', '--agent', url]);
    const listed = JSON.parse(list.stdout).models[0];
    assert.equal(listed.active.warmup.source, 'none');
    assert.match(listed.active.warmup.reason, /--sample/);
    const out = await agent.models.infer('r', { x: f32([1000], new Float32Array(1000).fill(2)) });
    assert.equal(out.outputs.y?.dims[0], 1000);

    const sample = writeModel(
      dir.path,
      'sample.json',
      JSON.stringify({ x: tensorToJson(f32([1000], new Float32Array(1000))) }),
    );
    const sampled = await runCli([
      'models',
      'install',
      file,
      '--name',
      'r',
      '--version',
      '1.0.1',
      '--sample',
      sample,
      '--json',
      '--agent',
      url,
    ]);
    assert.equal(sampled.code, 0, sampled.stderr);
    const active = JSON.parse(sampled.stdout).active;
    assert.deepEqual([active.version, active.warmup], ['1.0.1', { source: 'sample', dims: { x: [1000] } }]);
    const table = await runCli(['models', 'list', '--agent', url]);
    assert.match(table.stdout, /WARMUP[\s\S]*\br\s+1\.0\.1\/fp32\s+onnx:cpu\s+.*\bsample\b/);

    const badSample = writeModel(
      dir.path,
      'bad.json',
      JSON.stringify({ x: tensorToJson(f32([2, 3], new Float32Array(6))) }),
    );
    const refused = await runCli([
      'models',
      'install',
      file,
      '--name',
      'r',
      '--version',
      '1.0.2',
      '--sample',
      badSample,
      '--agent',
      url,
    ]);
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /INFER_BAD_INPUT.*input "x": expected rank 1/);
  });

  it('with inference.unwarmed refuse, the same version is refused with every warm-up failure', async () => {
    const agent = await start('dev-warm-refuse', 'refuse');
    await assert.rejects(
      agent.models.install({ file, name: 'r', version: '1.0.0' }),
      (err: Error & { code?: string; details?: unknown }) => {
        assert.equal(err.code, 'INFER_NO_ENGINE');
        assert.match(JSON.stringify(err.details), /"stage":"warmup".*other dynamic dims 512/);
        return true;
      },
    );
  });
});
