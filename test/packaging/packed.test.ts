/**
 * The npm package: `npm pack` holds only what runs (the `files` list: the built JavaScript,
 * firmware profiles, docs and example configs; no tests, benches, sources, declarations or
 * source maps), and `npm install -g --prefix DIR ./outpost-X.tgz` into an empty prefix gives
 * an `outpost` that runs `--version`, `doctor` and the Quick start: a hub and an agent joined
 * by token, a model pushed and activated.
 *
 * The install downloads nothing. A global install of a tarball has no lockfile, so npm
 * resolves every dependency range from the packages' full registry documents (npm 11's
 * resolver asks for them with `Accept: application/json`); `npm ci` only ever fetched the
 * abbreviated ones (`application/vnd.npm.install-v1+json`), or none where the lockfile names
 * tarball URLs, and npm's HTTP cache answers a request only with a response to the same
 * Accept, so `--offline` failed with ENOTCACHED on the first dependency although every
 * tarball was cached. `--prefer-offline` works but fetches ~240 documents from the registry and
 * resolves ranges to whatever is newest (onnxruntime-web 1.31 against a lockfile of 1.30: not
 * what was tested). So the install runs against a loopback registry that knows exactly the
 * versions of package-lock.json and serves their tarballs from the npm cache `npm ci` filled
 * (lock-registry.ts), with a fresh `--cache`. Two install scripts would reach the network:
 * onnxruntime-node's postinstall (CUDA libraries from NuGet; `ONNXRUNTIME_NODE_INSTALL=skip`,
 * as docs/operations.md tells operators without a GPU) and better-sqlite3's prebuild-install
 * (a binary from GitHub, else a 1.5-minute compile on a 2-core machine): it gets this
 * checkout's own build of the same version through prebuild-install's local-prebuilds
 * directory. Measured on the shared 2-core development VM: the install 27-60 s by load (~125 s
 * more with better-sqlite3 compiling), the whole test 90-175 s, most of the rest the Quick start.
 */
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, realpathSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { runQuickStart } from '../docs/quick-start.js';
import { tempDir } from '../helpers/hub.js';
import { startLockRegistry } from './lock-registry.js';
import { root } from './process-helpers.js';

const npm = (args: string[], cwd = root) =>
  execFileSync('npm', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });

test('npm pack holds the built code, profiles, docs and examples, and no tests, benches, sources, declarations or maps', () => {
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
      p.endsWith('.tsbuildinfo') ||
      p.endsWith('.map') ||
      p.endsWith('.d.ts'),
  );
  assert.deepEqual(stray, []);
});

/** `better-sqlite3-vX-node-vABI-PLATFORM[musl]-ARCH.tar.gz` holding this checkout's build. */
function localPrebuild(dir: string): string {
  const pkg = resolve(root, 'node_modules/better-sqlite3');
  const { version } = JSON.parse(readFileSync(join(pkg, 'package.json'), 'utf8')) as { version: string };
  const report = process.report.getReport() as { header?: { glibcVersionRuntime?: string } };
  const libc = report.header?.glibcVersionRuntime ? '' : 'musl';
  const name = `better-sqlite3-v${version}-node-v${process.versions.modules}-${process.platform}${libc}-${process.arch}.tar.gz`;
  mkdirSync(dir, { recursive: true });
  execFileSync('tar', ['-czf', join(dir, name), '-C', pkg, 'build/Release/better_sqlite3.node']);
  return dir;
}

/** Every installed package's name@version under `nodeModules`, nested ones included. */
function installedVersions(nodeModules: string, out = new Set<string>()): Set<string> {
  if (!existsSync(nodeModules)) return out;
  for (const entry of readdirSync(nodeModules)) {
    if (entry.startsWith('.')) continue;
    const dirs = entry.startsWith('@')
      ? readdirSync(join(nodeModules, entry)).map((n) => join(nodeModules, entry, n))
      : [join(nodeModules, entry)];
    for (const dir of dirs) {
      const pj = join(dir, 'package.json');
      if (!existsSync(pj)) continue;
      const { name, version } = JSON.parse(readFileSync(pj, 'utf8')) as { name: string; version: string };
      out.add(`${name}@${version}`);
      installedVersions(join(dir, 'node_modules'), out);
    }
  }
  return out;
}

test('npm install -g of the packed tarball into an empty prefix runs outpost --version, doctor and the Quick start', async (t) => {
  const dir = await tempDir('outpost-packed-');
  const registry = await startLockRegistry(resolve(root, 'package-lock.json'));
  try {
    const tgz = npm(['pack', '--pack-destination', dir.path]).trim().split('\n').pop() as string;
    const prefix = join(dir.path, 'prefix');
    const started = Date.now();
    const install = await new Promise<{ code: number; out: string }>((done) =>
      execFile(
        'npm',
        ['install', '-g', '--prefix', prefix, `./${tgz}`, '--registry', registry.url].concat([
          '--cache',
          join(dir.path, 'npm-cache'),
          '--no-audit',
          '--no-fund',
          '--no-update-notifier',
        ]),
        {
          cwd: dir.path,
          env: {
            ...process.env,
            ONNXRUNTIME_NODE_INSTALL: 'skip',
            npm_config_better_sqlite3_local_prebuilds: localPrebuild(join(dir.path, 'prebuilds')),
          },
          maxBuffer: 16 * 1024 * 1024,
        },
        (err, stdout, stderr) => done({ code: err ? Number(err.code ?? 1) : 0, out: stdout + stderr }),
      ),
    );
    t.diagnostic(`npm install -g took ${Math.round((Date.now() - started) / 1000)} s`);
    assert.deepEqual(registry.missingTarballs, [], 'every tarball comes from the npm cache `npm ci` filled');
    assert.equal(install.code, 0, install.out);

    // What npm installed is exactly what this checkout was tested with.
    const pkg = join(prefix, 'lib', 'node_modules', 'outpost');
    const lock = JSON.parse(readFileSync(resolve(root, 'package-lock.json'), 'utf8')) as {
      packages: Record<string, { version?: string }>;
    };
    const locked = new Set(
      Object.entries(lock.packages)
        .filter(([p]) => p.includes('node_modules/'))
        .map(([p, e]) => `${p.slice(p.lastIndexOf('node_modules/') + 'node_modules/'.length)}@${e.version}`),
    );
    const installed = installedVersions(join(pkg, 'node_modules'));
    assert.ok(installed.size > 100, `only ${installed.size} packages installed`);
    assert.deepEqual(
      [...installed].filter((p) => !locked.has(p)),
      [],
    );
    assert.ok(existsSync(join(pkg, 'node_modules/better-sqlite3/build/Release/better_sqlite3.node')));

    const outpost = join(prefix, 'bin', 'outpost');
    assert.equal(realpathSync(outpost), join(realpathSync(pkg), 'dist', 'cli', 'main.js'));
    const version = execFileSync(outpost, ['--version'], { encoding: 'utf8' }).trim();
    assert.equal(version, JSON.parse(npm(['pkg', 'get', 'version'])));
    const doctor = execFileSync(
      outpost,
      ['doctor', 'hub', '--data-dir', join(dir.path, 'hub'), '--http.port', '0', '--mqtt.port', '0'],
      { encoding: 'utf8', cwd: dir.path },
    );
    assert.match(doctor, /^0 failed/m);
    await runQuickStart({ binDir: join(prefix, 'bin') });
  } finally {
    await registry.close();
    await dir.remove();
  }
});
