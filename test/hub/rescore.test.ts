import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Hub } from '../../hub/index.js';
import { deviceTopic, type UplinkBatch } from '../../shared/index.js';
import {
  api,
  type Credentials,
  closeClient,
  connectDevice,
  enroll,
  sendBatch,
  startHub,
  type TestDevice,
  tempDir,
  waitFor,
} from '../helpers/hub.js';
import { classifierModel } from '../helpers/models.js';

// Inputs a device answered locally while the hub was out of reach arrive as
// `inference.rescore` events in its results lane; the hub re-scores each once with its model.

const EPOCH = 'rescoreEpoch01';
const x = (data: number[]) => ({ x: { dtype: 'float32', dims: [1, data.length], data } });

function rescoreBatch(
  first: number,
  bodies: Array<{ type: string; body: unknown }>,
  id: string,
): UplinkBatch {
  return {
    v: 1,
    epoch: EPOCH,
    lane: 'results',
    batchId: id,
    events: bodies.map((e, i) => ({ seq: first + i, type: e.type, at: 1_700_000_000_000 + i, body: e.body })),
  };
}

let dir: Awaited<ReturnType<typeof tempDir>>;
let hub: Hub;
let creds: Credentials;
let device: TestDevice | undefined;

async function connect(): Promise<TestDevice> {
  const d = await connectDevice(hub, creds);
  await d.client.subscribeAsync(deviceTopic(creds.id, 'ack'), { qos: 1 });
  return d;
}

before(async () => {
  dir = await tempDir();
  hub = await startHub(dir.path);
  creds = await enroll(hub);
});

after(async () => {
  await closeClient(device?.client);
  await hub.close();
  await dir.remove();
});

test('queued inputs wait for a hub that serves their model, then are re-scored once each', async () => {
  device = await connect();
  const ack = await sendBatch(
    device,
    creds.id,
    rescoreBatch(
      1,
      [
        {
          type: 'inference.rescore',
          body: { model: 'small', cloudModel: 'big', inputs: x([0.5, -1, 2, 0.25]) },
        },
        { type: 'inference.rescore', body: { model: 'small', cloudModel: 'big', inputs: x([1, 2, 3]) } },
        { type: 'inference.result', body: { model: 'small' } },
      ],
      'b1',
    ),
  );
  assert.equal(ack.stored, 3);
  // This hub serves no `big`: both inputs stay pending, none is answered with an error.
  assert.equal((await hub.store.pendingRescores(10, [])).length, 2);
  assert.deepEqual((await api(hub, 'GET', `/v1/devices/${creds.id}/rescores`)).body, { rescores: [] });
  await closeClient(device.client);
  await hub.close();

  // The next start serves `big` and re-scores what was queued before it.
  mkdirSync(join(dir.path, 'models'), { recursive: true });
  writeFileSync(join(dir.path, 'models', 'big.onnx'), classifierModel(7).bytes);
  hub = await startHub(dir.path);
  const rescores = await waitFor(async () => {
    const res = await api(hub, 'GET', `/v1/devices/${creds.id}/rescores`);
    return res.body.rescores.length === 2 ? res.body.rescores : undefined;
  }, 'two re-scores after the restart');
  const direct = await api(hub, 'POST', '/v1/infer/big', { inputs: x([0.5, -1, 2, 0.25]) });
  assert.equal(direct.status, 200);
  assert.deepEqual(
    rescores.map((r: { seq: number }) => r.seq),
    [1, 2],
  );
  const [good, bad] = rescores;
  assert.equal(good.model, 'big');
  assert.equal(good.engine, direct.body.engine);
  assert.deepEqual(good.outputs, direct.body.outputs, 'the same answer as the hub model gives live');
  assert.equal(good.error, null);
  assert.equal(bad.outputs, null);
  assert.match(bad.error, /INFER_BAD_INPUT: .*input "x"/);
  assert.equal((await hub.store.pendingRescores(10, [])).length, 0);
});

test('a live results batch is re-scored after its ack, and a redelivery is not scored twice', async () => {
  device = await connect();
  const batch = rescoreBatch(
    4,
    [{ type: 'inference.rescore', body: { cloudModel: 'big', inputs: x([1, 1, 1, 1]) } }],
    'b2',
  );
  await sendBatch(device, creds.id, batch);
  await waitFor(async () => {
    const res = await api(hub, 'GET', `/v1/devices/${creds.id}/rescores`);
    return res.body.rescores.some((r: { seq: number }) => r.seq === 4) ? true : undefined;
  }, 'the re-score of seq 4');
  const again = await sendBatch(device, creds.id, { ...batch, batchId: 'b2-again' });
  assert.equal(again.duplicates, 1);
  const res = await api(hub, 'GET', `/v1/devices/${creds.id}/rescores`);
  assert.equal(res.body.rescores.filter((r: { seq: number }) => r.seq === 4).length, 1);
  assert.equal(res.body.rescores.length, 3);
});
