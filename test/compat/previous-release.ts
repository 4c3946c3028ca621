/**
 * The previous release, built from git into a temp dir for the compatibility suite: the
 * commit tagged `v0.1.0`, or {@link PREVIOUS_RELEASE_COMMIT} where the tag did not travel
 * (a clone without tags). The build is cached per commit id under the temp dir, so a rerun
 * only checks that it is there.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, readlink, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** This repository's root (the test file lives in test/compat/ of the source or of dist/). */
export const REPO_ROOT = (() => {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package-lock.json'))) dir = dirname(dir);
  return dir;
})();

/** The tag of the previous release. */
export const PREVIOUS_RELEASE_TAG = 'v0.1.0';

/**
 * Outpost 0.1.0, the release before the version-tolerant protocol (the last commit before
 * `pv` and tolerant reading): what {@link PREVIOUS_RELEASE_TAG} points at.
 */
export const PREVIOUS_RELEASE_COMMIT = '69e474d427606e607ba7df44fd56e44524c44a6e';

/** Where built releases are cached, one directory per commit id. */
export const CACHE_DIR = join(tmpdir(), 'outpost-compat-builds');

/** The tag's commit when the tag is here, else the recorded commit id. */
export async function previousReleaseCommit(): Promise<string> {
  try {
    const { stdout } = await run(
      'git',
      ['rev-parse', '--verify', '--quiet', `${PREVIOUS_RELEASE_TAG}^{commit}`],
      {
        cwd: REPO_ROOT,
      },
    );
    return stdout.trim();
  } catch {
    return PREVIOUS_RELEASE_COMMIT;
  }
}

/** A built previous release. */
export interface BuiltRelease {
  commit: string;
  dir: string;
  /** `dist/cli/main.js` of that release. */
  cli: string;
  /** How its dependencies were provided: this repo's node_modules (`linked`) or `npm ci`. */
  deps: 'linked' | 'installed';
  /** False when the cache already held the build. */
  built: boolean;
}

/**
 * Names of the old lockfile's packages that this repo's node_modules lacks or holds at
 * another version (empty: the old release can use this node_modules as it is).
 */
export async function missingDependencies(lockfile: string): Promise<string[]> {
  const lock = JSON.parse(lockfile) as {
    packages: Record<string, { version?: string; link?: boolean; optional?: boolean }>;
  };
  const missing: string[] = [];
  for (const [path, entry] of Object.entries(lock.packages)) {
    if (path === '' || entry.link || entry.version === undefined) continue;
    try {
      const installed = JSON.parse(await readFile(join(REPO_ROOT, path, 'package.json'), 'utf8')) as {
        version?: string;
      };
      if (installed.version !== entry.version) missing.push(`${path}@${entry.version}`);
    } catch {
      // An optional package absent here is one npm skips on this platform (os, cpu, libc).
      if (!entry.optional) missing.push(`${path}@${entry.version}`);
    }
  }
  return missing;
}

/**
 * Builds `commit` (default: the previous release) into `CACHE_DIR/<commit>` unless it is
 * there: `git archive` of the commit, its dependencies (this repo's node_modules by symlink
 * when they satisfy its lockfile, else `npm ci` with the npm cache), its own `tsc -b cli`.
 */
export async function buildPreviousRelease(log: (line: string) => void = () => {}): Promise<BuiltRelease> {
  const commit = await previousReleaseCommit();
  const dir = join(CACHE_DIR, commit);
  const cli = join(dir, 'dist', 'cli', 'main.js');
  const marker = join(dir, '.outpost-compat-built');
  if (existsSync(marker) && existsSync(cli)) {
    const deps = (await readFile(marker, 'utf8')).trim() === 'installed' ? 'installed' : 'linked';
    if (deps === 'installed') return { commit, dir, cli, deps, built: false };
    // A linked build uses the node_modules of the checkout that built it, which may be gone
    // (a removed clone): it is linked to this checkout's when those still satisfy its lockfile.
    const lock = await readFile(join(dir, 'package-lock.json'), 'utf8');
    if ((await missingDependencies(lock)).length === 0) {
      const link = join(dir, 'node_modules');
      const ours = join(REPO_ROOT, 'node_modules');
      if ((await readlink(link).catch(() => undefined)) !== ours) {
        await rm(link, { recursive: true, force: true });
        await symlink(ours, link, 'dir');
      }
      return { commit, dir, cli, deps, built: false };
    }
    log(`the cached build of ${commit} links dependencies this checkout cannot give it: rebuilding`);
  }
  // Built beside the final place and renamed at the end: a killed build leaves no half tree.
  const work = `${dir}.partial-${process.pid}`;
  await rm(work, { recursive: true, force: true });
  await mkdir(work, { recursive: true });
  log(`extracting ${commit} into ${work}`);
  await run('sh', ['-c', `git archive --format=tar "${commit}" | tar -x -C "${work}"`], {
    cwd: REPO_ROOT,
    maxBuffer: 64 * 1024 * 1024,
  });
  const missing = await missingDependencies(await readFile(join(work, 'package-lock.json'), 'utf8'));
  let deps: BuiltRelease['deps'];
  if (missing.length === 0) {
    await symlink(join(REPO_ROOT, 'node_modules'), join(work, 'node_modules'), 'dir');
    deps = 'linked';
  } else {
    log(
      `npm ci: this node_modules lacks ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ', …' : ''}`,
    );
    await run('npm', ['ci', '--prefer-offline', '--no-audit', '--no-fund'], {
      cwd: work,
      maxBuffer: 64 * 1024 * 1024,
    });
    deps = 'installed';
  }
  // Its CLI project and what it references (shared, inference, federated, agent, hub):
  // the old side runs as `node dist/cli/main.js hub|agent`; its tests and bench are not needed.
  log(`building ${commit} with its own tsc -b cli`);
  await run(process.execPath, [resolve(work, 'node_modules/typescript/bin/tsc'), '-b', 'cli'], {
    cwd: work,
    maxBuffer: 64 * 1024 * 1024,
  });
  await writeFile(join(work, '.outpost-compat-built'), `${deps}\n`);
  await rm(dir, { recursive: true, force: true });
  await rename(work, dir);
  return { commit, dir, cli, deps, built: true };
}
