import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type Agent, createAgent } from '../../agent/index.js';
import { tensorToJson } from '../../inference/index.js';
import { agentTestConfig, FaultProxy, tempDir, testLogger } from '../helpers/agent.js';
import { classifierModel, f32, writeModel } from '../helpers/models.js';
import { runCli } from './run-cli.js';

// `outpost models` against a real agent's local API.

describe('outpost models', () => {
  const dir = tempDir();
  const proxy = new FaultProxy();
  const model = classifierModel(5);
  let agent: Agent;
  let file: string;
  before(async () => {
    file = writeModel(dir.path, 'clf.onnx', model.bytes);
    agent = await createAgent(
      agentTestConfig({
        deviceId: 'dev-cli-models',
        deviceSecret: 'a-device-secret-of-some-length',
        dataDir: join(dir.path, 'agent'),
        hub: { mqttUrl: await proxy.listen() },
        inference: { profile: 'x86-64-cpu', threads: 1 },
      }),
      { logger: testLogger() },
    );
  });
  after(async () => {
    await agent.close();
    await proxy.close();
    dir.remove();
  });

  it('installs a file with its sha256, lists it and runs it', async () => {
    const sha = createHash('sha256').update(model.bytes).digest('hex');
    const install = await runCli([
      'models',
      'install',
      file,
      '--name',
      'clf',
      '--version',
      '1.2.3',
      '--sha256',
      sha,
      '--agent',
      agent.api.url,
    ]);
    assert.equal(install.code, 0, install.stderr);
    assert.match(install.stdout, /^clf 1\.2\.3\/fp32 on onnx:cpu/);
    const list = await runCli(['models', 'list', '--agent', agent.api.url]);
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /NAME\s+ACTIVE\s+ENGINE[\s\S]*clf\s+1\.2\.3\/fp32\s+onnx:cpu/);
    const inputs = writeModel(
      dir.path,
      'inputs.json',
      JSON.stringify({ x: tensorToJson(f32([1, 4], [1, 0, 0, 0])) }),
    );
    const infer = await runCli([
      'models',
      'infer',
      'clf',
      '--inputs',
      inputs,
      '--json',
      '--agent',
      agent.api.url,
    ]);
    assert.equal(infer.code, 0, infer.stderr);
    const answer = JSON.parse(infer.stdout);
    assert.equal(answer.engine, 'onnx:cpu');
    assert.ok(
      Math.abs(
        (answer.outputs.logits.data[0] as number) - ((model.w[0] as number) + (model.b[0] as number)),
      ) < 1e-5,
    );
  });

  it('a wrong sha256 fails with the agent error (exit 1); a dead agent exits 3; bad usage exits 2', async () => {
    const bad = await runCli([
      'models',
      'install',
      file,
      '--name',
      'clf',
      '--version',
      '1.2.4',
      '--sha256',
      '0'.repeat(64),
      '--agent',
      agent.api.url,
    ]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /INFER_MODEL_INVALID sha256 mismatch/);
    const dead = await runCli(['models', 'list', '--agent', 'http://127.0.0.1:1']);
    assert.equal(dead.code, 3);
    assert.match(dead.stderr, /cannot reach the agent/);
    const usage = await runCli(['models', 'install']);
    assert.equal(usage.code, 2);
  });
});
