import { execFileSync } from 'node:child_process';
import { createReadStream, existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';

/** One package version as package-lock.json (lockfileVersion 3) records it. */
interface LockEntry {
  name?: string;
  version?: string;
  integrity?: string;
  link?: boolean;
  inBundle?: boolean;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
  bin?: Record<string, string>;
  engines?: Record<string, string>;
  os?: string[];
  cpu?: string[];
  libc?: string[];
  license?: string;
  hasInstallScript?: boolean;
}

export interface LockRegistry {
  /** The registry URL, for `npm --registry`. */
  url: string;
  /** Tarballs served (name@version). */
  served: Set<string>;
  /** Tarballs asked for that the npm cache does not hold. */
  missingTarballs: string[];
  /**
   * Packages asked for that package-lock.json does not name: npm looks up optional peer
   * dependencies nobody installs (pg-native, bufferutil, ...) and takes the 404 as absent.
   */
  notInLock: Set<string>;
  close(): Promise<void>;
}

/** `a` vs `b` for versions `x.y.z[-pre]`: negative, 0 or positive. */
function compareVersions(a: string, b: string): number {
  const parse = (v: string) => {
    const [core = '', pre] = v.split('+')[0]?.split(/-(.*)/s) ?? [];
    return { nums: core.split('.').map(Number), pre };
  };
  const x = parse(a);
  const y = parse(b);
  for (let i = 0; i < 3; i++) {
    const d = (x.nums[i] ?? 0) - (y.nums[i] ?? 0);
    if (d !== 0) return d;
  }
  if (x.pre === y.pre) return 0;
  if (x.pre === undefined) return 1;
  if (y.pre === undefined) return -1;
  return x.pre < y.pre ? -1 : 1;
}

/** Where cacache keeps the content with this SRI integrity. */
function cachedContent(cacheDir: string, integrity: string): string {
  const [algo = '', b64 = ''] = integrity.split(' ')[0]?.split(/-(.*)/s) ?? [];
  const hex = Buffer.from(b64, 'base64').toString('hex');
  return join(cacheDir, '_cacache', 'content-v2', algo, hex.slice(0, 2), hex.slice(2, 4), hex.slice(4));
}

/**
 * A loopback npm registry that knows exactly the package versions of `lockFile` and serves
 * their tarballs out of the npm cache (`npm config get cache`) that `npm ci` filled: an
 * install against it resolves every range to the version this checkout was tested with and
 * downloads nothing. Packuments carry what package-lock.json records of each version
 * (dependencies, peer and optional dependencies, bin, engines, os/cpu/libc, integrity),
 * which is what npm's resolver reads.
 */
export async function startLockRegistry(lockFile: string): Promise<LockRegistry> {
  const lock = JSON.parse(readFileSync(lockFile, 'utf8')) as { packages: Record<string, LockEntry> };
  const cacheDir = execFileSync('npm', ['config', 'get', 'cache'], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'],
  }).trim();
  const versions = new Map<string, Map<string, LockEntry>>();
  for (const [path, entry] of Object.entries(lock.packages)) {
    if (!path.includes('node_modules/') || entry.link || entry.inBundle) continue;
    if (!entry.version || !entry.integrity) continue;
    const name = entry.name ?? path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length);
    const byVersion = versions.get(name) ?? new Map<string, LockEntry>();
    versions.set(name, byVersion.set(entry.version, entry));
  }
  const served = new Set<string>();
  const missingTarballs: string[] = [];
  const notInLock = new Set<string>();
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname).slice(1);
    const tarball = /^-\/tarball\/(.+)\/([^/]+)\.tgz$/.exec(path);
    if (tarball) {
      const [, name = '', version = ''] = tarball;
      const entry = versions.get(name)?.get(version);
      const file = entry?.integrity ? cachedContent(cacheDir, entry.integrity) : undefined;
      if (!file || !existsSync(file)) {
        missingTarballs.push(`${name}@${version} (not in the npm cache ${cacheDir}: run npm ci)`);
        res.writeHead(404).end();
        return;
      }
      served.add(`${name}@${version}`);
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      createReadStream(file).pipe(res);
      return;
    }
    const byVersion = versions.get(path);
    if (!byVersion) {
      notInLock.add(path);
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not found"}');
      return;
    }
    const base = `http://${req.headers.host}/-/tarball/${encodeURIComponent(path)}`;
    const all = [...byVersion.keys()].sort(compareVersions);
    const packument = {
      name: path,
      'dist-tags': { latest: all[all.length - 1] },
      versions: Object.fromEntries(
        [...byVersion].map(([version, e]) => [
          version,
          {
            name: path,
            version,
            license: e.license,
            dependencies: e.dependencies,
            optionalDependencies: e.optionalDependencies,
            peerDependencies: e.peerDependencies,
            peerDependenciesMeta: e.peerDependenciesMeta,
            bin: e.bin,
            engines: e.engines,
            os: e.os,
            cpu: e.cpu,
            libc: e.libc,
            hasInstallScript: e.hasInstallScript,
            dist: { tarball: `${base}/${version}.tgz`, integrity: e.integrity },
          },
        ]),
      ),
    };
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(packument));
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    served,
    missingTarballs,
    notInLock,
    close: () => new Promise((done) => server.close(() => done())),
  };
}
