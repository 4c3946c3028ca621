/**
 * The npm package: `npm pack` holds only what runs (the `files` list: no tests, no benches,
 * no sources), and the packed files alone run `outpost doctor` and the Quick start: a hub and an agent joined by
 * token, a model pushed and activated. The tarball is unpacked the way `npm install -g
 * --prefix DIR` lays it out (DIR/lib/node_modules/outpost); its dependencies come from this
 * checkout's node_modules, since tests download nothing.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, symlinkSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { runQuickStart } from '../docs/quick-start.js';
import { tempDir } from '../helpers/hub.js';
import { root } from './process-helpers.js';

const npm = (args: string[], cwd = root) =>
  execFileSync('npm', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });

test('npm pack holds the built code, profiles and docs, and no tests, benches or sources', () => {
  const [pack] = JSON.parse(npm(['pack', '--dry-run', '--json'])) as [{ files: Array<{ path: string }> }];
  const paths = pack.files.map((f) => f.path);
  for (const needed of [
    'dist/cli/main.js',
    'dist/hub/index.js',
    'firmware-profiles/x86-64-cpu.json',
    'docs/getting-started.md',
  ])
    assert.ok(paths.includes(needed), needed);
  const stray = paths.filter(
    (p) =>
      /^(test|bench|dist\/test|dist\/bench)\//.test(p) ||
      (p.endsWith('.ts') && !p.endsWith('.d.ts')) ||
      p.endsWith('.tsbuildinfo'),
  );
  assert.deepEqual(stray, []);
});

test('the packed package runs outpost --version, outpost doctor and the Quick start', async () => {
  const dir = await tempDir('outpost-packed-');
  try {
    const tgz = npm(['pack', '--pack-destination', dir.path]).trim().split('\n').pop() as string;
    const pkg = join(dir.path, 'prefix', 'lib', 'node_modules', 'outpost');
    mkdirSync(pkg, { recursive: true });
    execFileSync('tar', ['-xzf', join(dir.path, tgz), '-C', pkg, '--strip-components=1']);
    symlinkSync(resolve(root, 'node_modules'), join(pkg, 'node_modules'));
    const main = join(pkg, 'dist', 'cli', 'main.js');
    const version = execFileSync(process.execPath, [main, '--version'], { encoding: 'utf8' }).trim();
    assert.equal(version, JSON.parse(npm(['pkg', 'get', 'version'])));
    const doctor = execFileSync(
      process.execPath,
      [main, 'doctor', 'hub', '--data-dir', join(dir.path, 'hub'), '--http.port', '0', '--mqtt.port', '0'],
      { encoding: 'utf8' },
    );
    assert.match(doctor, /^0 failed/m);
    await runQuickStart(main);
  } finally {
    await dir.remove();
  }
});
