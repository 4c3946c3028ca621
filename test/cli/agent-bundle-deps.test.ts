/**
 * `outpost agents bundle` with its default `--deps copy`, on a small package of the test's own:
 * the bundle carries the production dependency closure (nested ones kept where npm put them),
 * never a dev dependency, and a real node_modules folder, not a link to this machine's.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { buildAgentBundle } from '../../cli/agent-bundle.js';
import { tempDir } from '../helpers/agent.js';

function write(file: string, text: string): void {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, text);
}

const pkgJson = (
  name: string,
  version: string,
  deps: Record<string, string> = {},
  dev: Record<string, string> = {},
) => JSON.stringify({ name, version, dependencies: deps, devDependencies: dev });

test('--deps copy bundles the production dependencies, nested ones in place, no dev dependency, no link', async () => {
  const dir = tempDir('outpost-bundle-deps-');
  try {
    const pkg = join(dir.path, 'outpost');
    write(
      join(pkg, 'package.json'),
      JSON.stringify({
        name: 'outpost',
        version: '0.9.0',
        files: ['dist'],
        dependencies: { left: '1.0.0', right: '2.0.0' },
        devDependencies: { 'dev-only': '1.0.0' },
      }),
    );
    write(join(pkg, 'dist/shared/version.js'), "export const OUTPOST_VERSION = '0.9.0';\n");
    write(join(pkg, 'dist/cli/main.js'), 'console.log("outpost");\n');
    // left needs shared@1 (hoisted to the top) and its own nested inner@2.
    write(
      join(pkg, 'node_modules/left/package.json'),
      pkgJson('left', '1.0.0', { shared: '1.0.0', inner: '2.0.0' }),
    );
    write(join(pkg, 'node_modules/left/index.js'), 'module.exports = 1;\n');
    write(join(pkg, 'node_modules/left/node_modules/inner/package.json'), pkgJson('inner', '2.0.0'));
    write(join(pkg, 'node_modules/shared/package.json'), pkgJson('shared', '1.0.0'));
    write(
      join(pkg, 'node_modules/right/package.json'),
      pkgJson('right', '2.0.0', {}, { 'dev-only': '1.0.0' }),
    );
    write(join(pkg, 'node_modules/dev-only/package.json'), pkgJson('dev-only', '1.0.0'));
    // A package nobody depends on.
    write(join(pkg, 'node_modules/stray/package.json'), pkgJson('stray', '1.0.0'));

    const out = join(dir.path, 'bundle.tgz');
    const built = await buildAgentBundle({ packageDir: pkg, out, pack: 'files' });
    assert.equal(built.info.version, '0.9.0');
    const listing = execFileSync('tar', ['tzvf', out], { encoding: 'utf8' });
    const members = listing
      .split('\n')
      .filter(Boolean)
      .map((line) => ({ type: line[0], path: line.split(/\s+/).slice(5).join(' ').replace(/\/$/, '') }));
    const paths = new Set(members.map((m) => m.path));
    for (const expected of [
      'package/dist/cli/main.js',
      'package/node_modules/left/index.js',
      'package/node_modules/left/node_modules/inner/package.json',
      'package/node_modules/shared/package.json',
      'package/node_modules/right/package.json',
    ])
      assert.ok(paths.has(expected), `${expected} missing from:\n${[...paths].join('\n')}`);
    for (const absent of [
      'package/node_modules/dev-only/package.json',
      'package/node_modules/stray/package.json',
    ])
      assert.ok(!paths.has(absent), `${absent} must not be bundled`);
    assert.ok(
      members.every((m) => m.type !== 'l'),
      `no links in a copied bundle:\n${listing}`,
    );
  } finally {
    dir.remove();
  }
});
