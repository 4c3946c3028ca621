import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { packTfjsBundle, readModelSource } from '../../inference/index.js';
import { runCli } from '../cli/run-cli.js';
import { tempDir as agentTempDir } from '../helpers/agent.js';
import { enroll, type HubForCli, startHubForCli } from '../helpers/hub.js';
import { classifierModel, seededFloats, writeModel } from '../helpers/models.js';
import { writeLayersModel } from '../helpers/tfjs-models.js';
import { modelsInProcess } from './helpers.js';

// `outpost models push|list --registry|show|delete|keys` against a real hub:
// the exit codes through real `outpost` processes, the rest in process through the same flag
// parser and command function (each process start costs seconds on a loaded machine).

describe('outpost models (registry)', () => {
  const files = agentTempDir();
  let fixture: HubForCli;
  before(async () => {
    fixture = await startHubForCli();
  });
  after(async () => {
    await fixture?.close();
    files.remove();
  });

  it('pushes, lists and refuses to delete a pinned version, as a real process (exit codes 0, 1)', async () => {
    const onnx = writeModel(files.path, 'clf.onnx', classifierModel(4).bytes);
    const pushed = await runCli(
      ['models', 'push', onnx, '--name', 'clf', '--version', '1.0.0', '--json'],
      fixture.env,
    );
    assert.equal(pushed.code, 0, pushed.stderr);
    assert.equal(JSON.parse(pushed.stdout).variants[0].format, 'onnx');
    const list = await runCli(['models', 'list', '--registry'], fixture.env);
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /^NAME\s+VERSION\s+VARIANTS/);
    assert.match(list.stdout, /clf\s+1\.0\.0\s+fp32\/onnx/);
    const device = await enroll(fixture.hub);
    await fixture.hub.delivery.desired.setModel(device.id, { name: 'clf', version: '1.0.0' });
    const refused = await runCli(['models', 'delete', 'clf', '1.0.0'], fixture.env);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /HUB_MODEL_IN_USE/);
  });

  it('pushes variants with lineage and TF.js bundles, shows, prints keys, deletes', async () => {
    const onnx = writeModel(files.path, 'clf2.onnx', classifierModel(5).bytes);
    const child = await modelsInProcess(
      ['push', onnx, '--name', 'clf', '--version', '1.1.0', '--variant', 'int8', '--parent', '1.0.0'],
      fixture.env,
    );
    assert.equal(child.code, 0, child.stdout);
    assert.match(child.stdout, /lineage parent=1\.0\.0/);
    assert.match(child.stdout, /int8\s+onnx/);
    const layers = await writeLayersModel(files.path, seededFloats(12, 1), seededFloats(3, 2), 'none');
    const tfjs = await modelsInProcess(
      ['push', layers.path, '--name', 'fl', '--version', '1.0.0', '--json'],
      fixture.env,
    );
    assert.equal(tfjs.code, 0, tfjs.stdout);
    const view = JSON.parse(tfjs.stdout);
    assert.equal(view.variants[0].format, 'tfjs-layers');
    assert.equal(view.variants[0].size, packTfjsBundle(await readModelSource(layers.path)).byteLength);
    const show = await modelsInProcess(['show', 'clf', '1.1.0', '--json'], fixture.env);
    assert.equal(JSON.parse(show.stdout).lineage.parent, '1.0.0');
    const keys = await modelsInProcess(['keys'], fixture.env);
    assert.match(keys.stdout, /\(current\)\n-----BEGIN PUBLIC KEY-----/);
    assert.equal((await modelsInProcess(['delete', 'clf', '1.1.0'], fixture.env)).code, 0);
    assert.equal((await modelsInProcess(['show', 'clf', '1.1.0'], fixture.env)).code, 1);
  });

  it('exits 2 on bad usage and 3 when the hub is unreachable', async () => {
    const usage = await modelsInProcess(['push', 'x.onnx', '--name', 'clf'], fixture.env);
    assert.equal(usage.code, 2);
    assert.match(usage.stdout, /--name and --version/);
    const down = await runCli(['models', 'list', '--hub', 'http://127.0.0.1:9', '--token', 'x'.repeat(20)]);
    assert.equal(down.code, 3);
  });
});
