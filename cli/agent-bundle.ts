import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, readFileSync, realpathSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { promisify } from 'node:util';
import {
  AGENT_BUNDLE_INFO_FILE,
  type AgentBundleInfo,
  type BundlePlatform,
  currentPlatform,
  DEFAULT_BUNDLE_ENTRY,
  SemverSchema,
} from '../shared/index.js';

const run = promisify(execFile);

/** What {@link buildAgentBundle} makes a bundle of. */
export interface BuildBundleOptions {
  /** The package root: its `package.json` and built `dist/` (this checkout, or an installed outpost). */
  packageDir: string;
  /** The bundle file to write. */
  out: string;
  /**
   * How the production dependencies get in: `copy` (default) copies them from the package's
   * `node_modules` (installed for this machine's platform); `link` makes `node_modules` a
   * symlink to them: such a bundle runs only on this machine (tests, the demo).
   */
  deps?: 'copy' | 'link';
  /** `link`: the node_modules directory to link to; default the package's own. */
  nodeModules?: string;
  /**
   * How the package's files are taken: `npm` (default) runs `npm pack`, exactly what npm
   * publishes; `files` copies the `files` of package.json directly (quicker; the demo).
   */
  pack?: 'npm' | 'files';
  /** Another release version, written into package.json and the built version constant (tests, the demo). */
  version?: string;
  /** The entry point exits 1 at start: a broken release (the demo, tests). */
  broken?: boolean;
  /** The platform the dependencies are for; default this machine's. */
  platform?: BundlePlatform;
}

/** A bundle made. */
export interface BuiltBundle {
  file: string;
  info: AgentBundleInfo;
  sha256: string;
  size: number;
}

/** The file in the built code that holds the release version (shared/version.ts). */
const VERSION_JS = join('dist', 'shared', 'version.js');
const VERSION_RE = /export const OUTPOST_VERSION = '([^']*)';/;

async function sha256Of(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/**
 * The members npm would publish from package.json's `files` (plain paths; its negations are
 * `.tsbuildinfo` files, left out when archiving), with package.json, README and LICENSE.
 */
async function publishedPaths(packageDir: string): Promise<string[]> {
  const pkg = JSON.parse(await readFile(join(packageDir, 'package.json'), 'utf8')) as { files?: string[] };
  const entries = (pkg.files ?? []).filter((e) => !e.startsWith('!') && !e.includes('*'));
  return [...entries, 'README.md', 'LICENSE'].filter((e) => existsSync(join(packageDir, e)));
}

/** `npm pack` of the package, unpacked into `into`. */
async function npmPack(packageDir: string, staging: string, into: string): Promise<void> {
  const { stdout } = await run(
    'npm',
    ['pack', resolve(packageDir), '--pack-destination', staging, '--json'],
    {
      maxBuffer: 64 * 1024 * 1024,
    },
  );
  const [packed] = JSON.parse(stdout) as Array<{ filename: string }>;
  if (packed === undefined) throw new Error(`npm pack of ${packageDir} made nothing`);
  const tgz = join(staging, basename(packed.filename));
  await mkdir(into, { recursive: true });
  await run('tar', ['-xzf', tgz, '-C', into, '--strip-components=1']);
  await rm(tgz, { force: true });
}

/** The directory of package `name` as Node resolves it from `fromDir`, or undefined. */
function resolvePackage(name: string, fromDir: string): string | undefined {
  let dir = fromDir;
  for (;;) {
    const candidate = join(dir, 'node_modules', name);
    if (existsSync(join(candidate, 'package.json'))) return candidate;
    const parent = dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

/**
 * Copies the production dependency closure of the package (dependencies, optional and peer
 * dependencies that are installed, recursively) into `into/node_modules`, keeping npm's
 * layout: a package under the package's own `node_modules` keeps its path; one resolved
 * from above it goes to the top level. Returns how many packages were copied.
 */
async function copyDependencies(packageDir: string, into: string): Promise<number> {
  const root = realpathSync(packageDir);
  const seen = new Set<string>();
  const queue: string[] = [root];
  let copied = 0;
  while (queue.length > 0) {
    const dir = queue.shift() as string;
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
      dependencies?: Record<string, string>;
      optionalDependencies?: Record<string, string>;
      peerDependencies?: Record<string, string>;
    };
    const names = new Set([
      ...Object.keys(pkg.dependencies ?? {}),
      ...Object.keys(pkg.optionalDependencies ?? {}),
      ...Object.keys(pkg.peerDependencies ?? {}),
    ]);
    for (const name of names) {
      const found = resolvePackage(name, dir);
      if (found === undefined) continue;
      const real = realpathSync(found);
      if (seen.has(real)) continue;
      seen.add(real);
      const rel = relative(root, found);
      const target = rel.startsWith('..') ? join(into, 'node_modules', name) : join(into, rel);
      if (!existsSync(target)) {
        await cp(real, target, {
          recursive: true,
          // Nested dependencies are copied as packages of their own (and only those needed).
          filter: (src) => relative(real, src).split(/[\\/]/)[0] !== 'node_modules',
        });
        copied++;
      }
      queue.push(real);
    }
  }
  return copied;
}

/**
 * Makes an agent bundle (docs/agent-updates.md): the packed package (`npm pack`) with its
 * production dependencies for one platform (os, arch, libc, Node ABI), as a gzipped tar whose
 * first entry, `outpost-bundle.json`, names the release, the platform and the entry point.
 * `outpost agents push` sends it to the hub, which signs it.
 */
export async function buildAgentBundle(o: BuildBundleOptions): Promise<BuiltBundle> {
  const staging = await mkdtemp(join(tmpdir(), 'outpost-bundle-'));
  try {
    const pkgDir = join(staging, 'package');
    const npm = (o.pack ?? 'npm') === 'npm';
    // `files`: the staging dir holds only what differs from the package (package.json, the
    // version constant, the entry of a broken release, node_modules); tar takes the rest
    // from the package itself, read once.
    if (npm) await npmPack(o.packageDir, staging, pkgDir);
    else {
      await mkdir(join(pkgDir, dirname(VERSION_JS)), { recursive: true });
      await cp(join(o.packageDir, 'package.json'), join(pkgDir, 'package.json'));
      if (existsSync(join(o.packageDir, VERSION_JS)))
        await cp(join(o.packageDir, VERSION_JS), join(pkgDir, VERSION_JS));
    }
    const pkgFile = join(pkgDir, 'package.json');
    const pkg = JSON.parse(await readFile(pkgFile, 'utf8')) as { version?: string };
    const versionJs = join(pkgDir, VERSION_JS);
    const built = existsSync(versionJs) ? VERSION_RE.exec(await readFile(versionJs, 'utf8'))?.[1] : undefined;
    if (built === undefined)
      throw new Error(`${join(o.packageDir, VERSION_JS)} is missing: build the package first`);
    if (o.version !== undefined) {
      if (!SemverSchema.safeParse(o.version).success)
        throw new Error(`${o.version} is not a release version`);
      pkg.version = o.version;
      await writeFile(pkgFile, `${JSON.stringify(pkg, null, 2)}\n`);
      const text = await readFile(versionJs, 'utf8');
      await writeFile(versionJs, text.replace(VERSION_RE, `export const OUTPOST_VERSION = '${o.version}';`));
    } else if (built !== pkg.version) {
      throw new Error(`the built code is ${built}, package.json says ${pkg.version}: rebuild the package`);
    }
    const version = String(pkg.version);
    let entry = DEFAULT_BUNDLE_ENTRY;
    if (o.broken) {
      entry = 'package/dist/cli/broken-release.js';
      await mkdir(dirname(join(staging, entry)), { recursive: true });
      await writeFile(
        join(staging, entry),
        `// A release that fails at start (the demo's broken agent).\nconsole.error('outpost agent ${version}: broken release, exiting');\nprocess.exit(1);\n`,
      );
    }
    if ((o.deps ?? 'copy') === 'link') {
      await symlink(
        resolve(o.nodeModules ?? join(o.packageDir, 'node_modules')),
        join(pkgDir, 'node_modules'),
        'dir',
      );
    } else {
      await copyDependencies(o.packageDir, pkgDir);
    }
    const info: AgentBundleInfo = {
      kind: 'agent',
      version,
      platform: o.platform ?? currentPlatform(),
      entry,
    };
    await writeFile(join(staging, AGENT_BUNDLE_INFO_FILE), `${JSON.stringify(info, null, 2)}\n`);
    await mkdir(dirname(resolve(o.out)), { recursive: true });
    // The info file first: the hub reads it without unpacking the rest.
    const args = ['-czf', resolve(o.out), '-C', staging, AGENT_BUNDLE_INFO_FILE, 'package'];
    if (!npm) {
      const paths = await publishedPaths(o.packageDir);
      const alternatives = paths.map((p) => p.replace(/[.\\[\]*^$]/g, '\\$&')).join('\\|');
      args.push(
        `--transform=s,^\\(${alternatives}\\)\\($\\|/\\),package/&,`,
        '--exclude=*.tsbuildinfo',
        // Anchored: the package's own copies of what the staging dir replaces.
        '--anchored',
        '--exclude=package.json',
        `--exclude=${VERSION_JS}`,
        '-C',
        resolve(o.packageDir),
        ...paths.filter((p) => p !== 'package.json'),
      );
    }
    await run('tar', args, { maxBuffer: 16 * 1024 * 1024 });
    const { size } = await stat(o.out);
    return { file: resolve(o.out), info, sha256: await sha256Of(o.out), size };
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}
