/**
 * The import rules of docs/architecture.md are enforced by the compiler. Each case copies the
 * repository's real tsconfig files into a temporary tree with tiny sources, adds one import,
 * and runs `tsc -b` on it, so the proof is about our configuration, not about a fixture's.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cp, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { repoRoot } from '../helpers/paths.js';

const run = promisify(execFile);
const root = repoRoot;
const tsc = join(root, 'node_modules/typescript/bin/tsc');

const sources: Record<string, string> = {
  'shared/index.ts': 'export const protocolVersion = 1;\n',
  'agent/index.ts':
    "import { protocolVersion } from '../shared/index.js';\nexport const agentVersion = protocolVersion;\n",
  'hub/index.ts':
    "import { protocolVersion } from '../shared/index.js';\nexport const hubVersion = protocolVersion;\n",
  'inference/index.ts':
    "import { protocolVersion } from '../shared/index.js';\nexport const engineVersion = protocolVersion;\n",
  'federated/index.ts':
    "import { protocolVersion } from '../shared/index.js';\nexport const learningVersion = protocolVersion;\n",
};

/** Builds `project` in a fresh copy with `extra` files added; returns tsc's exit code and output. */
async function buildWith(
  project: string,
  extra: Record<string, string>,
): Promise<{ code: number; output: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'outpost-boundaries-'));
  try {
    for (const f of ['tsconfig.base.json', 'package.json']) await cp(join(root, f), join(dir, f));
    await symlink(join(root, 'node_modules'), join(dir, 'node_modules'));
    for (const p of ['shared', 'inference', 'federated', 'agent', 'hub']) {
      await mkdir(join(dir, p));
      await cp(join(root, p, 'tsconfig.json'), join(dir, p, 'tsconfig.json'));
    }
    for (const [file, text] of Object.entries({ ...sources, ...extra }))
      await writeFile(join(dir, file), text);
    try {
      const { stdout, stderr } = await run(process.execPath, [tsc, '-b', project], { cwd: dir });
      return { code: 0, output: stdout + stderr };
    } catch (err) {
      const e = err as { code: number; stdout: string; stderr: string };
      return { code: e.code, output: e.stdout + e.stderr };
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test('the allowed imports build', async () => {
  for (const project of ['agent', 'hub', 'inference', 'federated']) {
    const result = await buildWith(project, {});
    assert.equal(result.code, 0, result.output);
  }
});

const forbidden: Array<[string, string, string]> = [
  [
    'agent imports hub',
    'agent',
    "import { hubVersion } from '../hub/index.js';\nexport const x = hubVersion;\n",
  ],
  [
    'hub imports agent',
    'hub',
    "import { agentVersion } from '../agent/index.js';\nexport const x = agentVersion;\n",
  ],
  [
    'shared imports agent',
    'shared',
    "import { agentVersion } from '../agent/index.js';\nexport const x = agentVersion;\n",
  ],
  [
    'shared imports hub',
    'shared',
    "import { hubVersion } from '../hub/index.js';\nexport const x = hubVersion;\n",
  ],
  // The engine code is shared by agent and hub, so it may import neither.
  [
    'inference imports agent',
    'inference',
    "import { agentVersion } from '../agent/index.js';\nexport const x = agentVersion;\n",
  ],
  [
    'inference imports hub',
    'inference',
    "import { hubVersion } from '../hub/index.js';\nexport const x = hubVersion;\n",
  ],
  [
    'shared imports inference',
    'shared',
    "import { engineVersion } from '../inference/index.js';\nexport const x = engineVersion;\n",
  ],
  // Federated learning code is shared by agent, hub and CLI, so it may import neither.
  [
    'federated imports agent',
    'federated',
    "import { agentVersion } from '../agent/index.js';\nexport const x = agentVersion;\n",
  ],
  [
    'federated imports hub',
    'federated',
    "import { hubVersion } from '../hub/index.js';\nexport const x = hubVersion;\n",
  ],
];

for (const [name, project, source] of forbidden) {
  test(`the build fails when ${name}`, async () => {
    const result = await buildWith(project, { [`${project}/violation.ts`]: source });
    assert.notEqual(result.code, 0, `expected tsc -b ${project} to fail`);
    // TS6307: the imported file is not part of this project or of any project it references.
    assert.match(
      result.output,
      /error TS6307: .*(agent|hub|inference)\/index\.ts' is not listed within the file list of project/,
    );
  });
}
