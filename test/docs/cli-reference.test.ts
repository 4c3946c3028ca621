import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { test } from 'node:test';
import { HELP, renderCliReference, USAGE } from '../../cli/help.js';
import { root, runBuiltCli } from '../packaging/process-helpers.js';

test("docs/cli.md is the commands' --help output (npm run docs:cli regenerates it)", () => {
  const doc = readFileSync(resolve(root, 'docs/cli.md'), 'utf8');
  assert.equal(doc, renderCliReference(), 'docs/cli.md drifted from --help: run npm run docs:cli');
});

test('--help prints exactly the texts the reference is made of', async () => {
  const top = await runBuiltCli(['--help']);
  assert.equal(top.stdout.trimEnd(), USAGE);
  for (const key of ['hub', 'agent join', 'hub ready']) {
    const res = await runBuiltCli([...key.split(' '), '--help']);
    assert.equal(res.code, 0, res.stderr);
    assert.equal(res.stdout.trimEnd(), HELP[key], key);
  }
});
