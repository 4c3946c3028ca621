import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { OUTPOST_VERSION } from '../../shared/index.js';
import { repoRoot } from '../helpers/paths.js';

test('the version the agent reports and the hub serves is package.json version', async () => {
  const pkg = JSON.parse(await readFile(join(repoRoot, 'package.json'), 'utf8')) as {
    version: string;
  };
  assert.equal(OUTPOST_VERSION, pkg.version);
});
