import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { API_CATALOG } from '../../hub/http/api-catalog.js';
import { OUTPOST_VERSION } from '../../shared/index.js';
import { api, startHub, tempDir } from '../helpers/hub.js';
import { repoRoot } from '../helpers/paths.js';

// The API reference is generated from the routes a real hub registers and the zod schemas
// its handlers parse with; the reference in docs/http-api.md is the rendering of it.
// `OUTPOST_UPDATE_DOCS=1` rewrites that section instead of failing on a difference.

const DOC = join(repoRoot, 'docs/http-api.md');
const BEGIN = '<!-- generated from /openapi.json: do not edit by hand -->';
const END = '<!-- end of generated reference -->';

interface Operation {
  summary: string;
  tags: string[];
  security: Record<string, unknown>[];
  parameters?: { name: string; in: string; required: boolean }[];
  requestBody?: unknown;
}

const dir = await tempDir();
const hub = await startHub(dir.path);
after(async () => {
  await hub.close();
  await dir.remove();
});
const served = await api(hub, 'GET', '/openapi.json', undefined, null);

function operations(): { method: string; path: string; op: Operation }[] {
  const paths = served.body.paths as Record<string, Record<string, Operation>>;
  return Object.entries(paths).flatMap(([path, methods]) =>
    Object.entries(methods).map(([method, op]) => ({ method: method.toUpperCase(), path, op })),
  );
}

function authOf(op: Operation): string {
  const names = op.security.map((s) => Object.keys(s)[0]);
  if (names.length === 0) return 'none';
  return names.includes('deviceBasic') ? 'device or admin' : 'admin';
}

function render(): string {
  const rows = operations().map(({ method, path, op }) => {
    const query = (op.parameters ?? []).filter((p) => p.in === 'query').map((p) => p.name);
    const input = [op.requestBody ? 'body' : '', query.length > 0 ? `query: ${query.join(', ')}` : '']
      .filter(Boolean)
      .join('; ');
    return `| \`${method} ${path}\` | ${authOf(op)} | ${input} | ${op.summary.replaceAll('|', '\\|')} |`;
  });
  return [BEGIN, '', '| route | auth | input | |', '|---|---|---|---|', ...rows, '', END].join('\n');
}

test('GET /openapi.json describes the hub, without auth, as OpenAPI 3.1', () => {
  assert.equal(served.status, 200);
  assert.equal(served.body.openapi, '3.1.0');
  assert.equal(served.body.info.version, OUTPOST_VERSION);
});

test('every route the hub serves is in the catalog, and every catalog entry is served', () => {
  const undocumented = operations()
    .filter(({ op }) => op.tags.includes('undocumented'))
    .map(({ method, path }) => `${method} ${path}`);
  assert.deepEqual(undocumented, [], 'routes served without an entry in hub/http/api-catalog.ts');
  const servedKeys = new Set(operations().map(({ method, path }) => `${method} ${path}`));
  const unserved = Object.keys(API_CATALOG)
    .map((key) => key.replace(/:(\w+)/g, '{$1}'))
    .filter((key) => !servedKeys.has(key));
  assert.deepEqual(unserved, [], 'catalog entries no route serves');
});

test('request schemas come from the handlers: enrollment body, events query, rollout body', () => {
  const byKey = new Map(operations().map((o) => [`${o.method} ${o.path}`, o.op]));
  const enroll = byKey.get('POST /v1/devices')?.requestBody as {
    content: { 'application/json': { schema: { properties: Record<string, unknown> } } };
  };
  assert.deepEqual(Object.keys(enroll.content['application/json'].schema.properties).sort(), [
    'id',
    'labels',
    'name',
  ]);
  const events = byKey.get('GET /v1/devices/{id}/events');
  assert.deepEqual(
    events?.parameters?.map((p) => `${p.in}:${p.name}`),
    ['path:id', 'query:lane', 'query:epoch', 'query:after', 'query:limit'],
  );
  assert.ok(byKey.get('POST /v1/rollouts')?.requestBody);
});

test('docs/http-api.md carries the generated reference', async () => {
  const text = await readFile(DOC, 'utf8');
  const start = text.indexOf(BEGIN);
  const end = text.indexOf(END);
  const current = start >= 0 && end > start ? text.slice(start, end + END.length) : '';
  const wanted = render();
  if (current === wanted) return;
  if (process.env.OUTPOST_UPDATE_DOCS === '1') {
    const next = current === '' ? `${text.trimEnd()}\n\n${wanted}\n` : text.replace(current, wanted);
    await writeFile(DOC, next);
    return;
  }
  assert.fail('docs/http-api.md differs from the hub routes: rerun this test with OUTPOST_UPDATE_DOCS=1');
});
