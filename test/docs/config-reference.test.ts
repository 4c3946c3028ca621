import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { test } from 'node:test';
import { renderConfigReference } from '../../cli/config-reference.js';
import { configFromEnv, configFromFlags } from '../../shared/index.js';
import { root } from '../packaging/process-helpers.js';

const doc = readFileSync(resolve(root, 'docs/configuration-reference.md'), 'utf8');

test('docs/configuration-reference.md is generated from the configuration schemas (npm run docs:config)', () => {
  assert.equal(
    doc,
    renderConfigReference(),
    'docs/configuration-reference.md drifted: run npm run docs:config',
  );
});

test('every documented environment variable sets the documented setting', () => {
  const rows = [...doc.matchAll(/^\| `([\w.]+)` \| `--[\w.-]+` \| `(OUTPOST_(HUB|AGENT)_\w+)` \|/gm)];
  assert.ok(rows.length > 60, `only ${rows.length} settings found`);
  for (const [, path, env, role] of rows) {
    let node: unknown = configFromEnv({ [env as string]: 'v' }, `OUTPOST_${role}_`);
    for (const key of (path as string).split('.')) node = (node as Record<string, unknown>)?.[key];
    assert.equal(node, 'v', `${env} does not set ${path}`);
  }
});

test('every documented flag sets the documented setting', () => {
  const rows = [...doc.matchAll(/^\| `([\w.]+)` \| `(--[\w.-]+)` \| `OUTPOST_(HUB|AGENT)_\w+` \|/gm)];
  assert.ok(rows.length > 60, `only ${rows.length} settings found`);
  for (const [, path, flag] of rows) {
    let node: unknown = configFromFlags([flag as string, 'v']).config;
    for (const key of (path as string).split('.')) node = (node as Record<string, unknown>)?.[key];
    assert.equal(node, 'v', `${flag} does not set ${path}`);
  }
});
