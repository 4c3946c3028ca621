import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { test } from 'node:test';
import {
  missingDependencies,
  PREVIOUS_RELEASE_COMMIT,
  PREVIOUS_RELEASE_TAG,
  previousReleaseCommit,
  REPO_ROOT,
} from './previous-release.js';

test('the previous release resolves to the tag where present, else to the recorded commit', async () => {
  const resolved = await previousReleaseCommit();
  assert.equal(resolved, PREVIOUS_RELEASE_COMMIT);
  let tagged: string | undefined;
  try {
    tagged = execFileSync('git', ['rev-parse', '--verify', '--quiet', `${PREVIOUS_RELEASE_TAG}^{commit}`], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
    }).trim();
  } catch {
    tagged = undefined; // a clone without tags: the recorded commit is used
  }
  if (tagged !== undefined)
    assert.equal(tagged, PREVIOUS_RELEASE_COMMIT, 'the constant names the tagged commit');
  // The recorded commit is in this clone's history either way.
  execFileSync('git', ['cat-file', '-e', `${PREVIOUS_RELEASE_COMMIT}^{commit}`], { cwd: REPO_ROOT });
});

test('a lockfile is satisfied by this node_modules only when every non-optional package is installed at its version', async () => {
  const lock = (packages: Record<string, unknown>) => JSON.stringify({ packages: { '': {}, ...packages } });
  const zod = JSON.parse(
    execFileSync('node', ['-p', 'JSON.stringify(require("zod/package.json"))'], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
    }),
  );
  assert.deepEqual(await missingDependencies(lock({ 'node_modules/zod': { version: zod.version } })), []);
  assert.deepEqual(await missingDependencies(lock({ 'node_modules/zod': { version: '0.0.1' } })), [
    'node_modules/zod@0.0.1',
  ]);
  assert.deepEqual(
    await missingDependencies(
      lock({
        'node_modules/no-such-package-here': { version: '1.0.0' },
        'node_modules/no-such-optional-here': { version: '1.0.0', optional: true },
      }),
    ),
    ['node_modules/no-such-package-here@1.0.0'],
  );
});
