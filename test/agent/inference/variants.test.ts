import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type Agent, createAgent } from '../../../agent/index.js';
import { ENGINES, quantizeInt8, tensorToJson } from '../../../inference/index.js';
import { agentTestConfig, FaultProxy, tempDir, testLogger } from '../../helpers/agent.js';
import { digitsFixture, oneDigit } from '../../helpers/digits.js';
import { writeModel } from '../../helpers/models.js';

// A version carrying fp32 and int8 variants. raspberry-pi-4 prefers int8;
// when every engine really refuses the int8 variant (its outputs miss the fp32 reference at
// a tight tolerance) the device falls back to fp32 and reports why; with a tolerance the
// int8 variant meets, the device takes int8.

describe('model variants', () => {
  const dir = tempDir();
  const proxy = new FaultProxy();
  let agent: Agent;
  let fp32File: string;
  let int8File: string;
  let reference: (abs: number) => unknown;

  before(async () => {
    const fixture = digitsFixture();
    fp32File = writeModel(dir.path, 'digits.onnx', fixture.bytes);
    int8File = writeModel(dir.path, 'digits.int8.onnx', quantizeInt8(fixture.bytes).bytes);
    const inputs = oneDigit(fixture.test, 3);
    const exact = await ENGINES['onnx:cpu'].load(
      { format: 'onnx', bytes: fixture.bytes },
      { intraOpThreads: 1, interOpThreads: 1, options: {}, log: testLogger() },
    );
    const outputs = await exact.run(inputs);
    await exact.close();
    reference = (abs) => ({
      inputs: { x: tensorToJson(inputs.x as never) },
      outputs: { probs: tensorToJson(outputs.probs as never) },
      tolerance: { abs, rel: 0 },
    });
    agent = await createAgent(
      agentTestConfig({
        deviceId: 'dev-variants',
        deviceSecret: 'a-device-secret-of-some-length',
        dataDir: join(dir.path, 'agent'),
        hub: { mqttUrl: await proxy.listen() },
        inference: { profile: 'raspberry-pi-4', threads: 1 },
      }),
      { logger: testLogger() },
    );
  });
  after(async () => {
    await agent.close();
    await proxy.close();
    dir.remove();
  });

  it('falls back to fp32 when every engine refuses the preferred int8 variant', async () => {
    const tight = reference(1e-6) as never;
    await agent.models.install({
      file: fp32File,
      name: 'digits',
      version: '1.0.0',
      reference: tight,
      activate: false,
    });
    const listing = await agent.models.install({
      file: int8File,
      name: 'digits',
      version: '1.0.0',
      precision: 'int8',
      reference: tight,
    });
    assert.equal(listing.active?.precision, 'fp32');
    assert.equal(listing.active?.engine, 'onnx:cpu');
    const refusedInt8 = (listing.active?.rejected ?? []).filter((r) => r.precision === 'int8');
    assert.deepEqual(
      refusedInt8.map((r) => `${r.engine}/${r.stage}`),
      ['onnx:cpu/reference', 'onnx-web:wasm/reference', 'tfjs:wasm/unsupported', 'tfjs:cpu/unsupported'],
    );
    assert.equal(refusedInt8[0]?.mismatch?.output, 'probs');
    const status = agent.status().inference?.models.find((m) => m.name === 'digits');
    assert.equal(status?.precision, 'fp32');
  });

  it('takes the preferred int8 variant when its engine admits it', async () => {
    const loose = reference(0.05) as never;
    await agent.models.install({
      file: fp32File,
      name: 'digits',
      version: '1.1.0',
      reference: loose,
      activate: false,
    });
    const listing = await agent.models.install({
      file: int8File,
      name: 'digits',
      version: '1.1.0',
      precision: 'int8',
      reference: loose,
    });
    assert.equal(listing.active?.version, '1.1.0');
    assert.equal(listing.active?.precision, 'int8');
    assert.equal(listing.active?.engine, 'onnx:cpu');
    const result = await agent.models.infer('digits', {
      x: { dtype: 'float32', dims: [1, 784], data: Array.from({ length: 784 }, () => 0) },
    });
    assert.equal(result.precision, 'int8');
  });
});
