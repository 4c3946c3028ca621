/**
 * The import rules of docs/architecture.md are enforced by the compiler. Each case copies the
 * repository's real tsconfig files into a temporary tree with tiny sources, adds one import,
 * and builds it with TypeScript's solution builder (what `tsc -b` runs), so the proof is about
 * our configuration, not about a fixture's. The builds run in this process and share the
 * parsed declaration files of node_modules (the standard library and @types/node), which no
 * case changes; each case's own sources are read afresh.
 */
import assert from 'node:assert/strict';
import { cp, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import ts from 'typescript';
import { repoRoot } from '../helpers/paths.js';

const root = repoRoot;

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

/** Declaration files under node_modules, parsed once for every build of this file. */
const parsedDeclarations = new Map<string, ts.SourceFile>();

/** The program every build creates, its compiler host reading node_modules' files through the cache. */
function createProgram(...args: Parameters<ts.CreateProgram<ts.EmitAndSemanticDiagnosticsBuilderProgram>>) {
  const host = args[2];
  if (host) {
    const read = host.getSourceFile.bind(host);
    host.getSourceFile = (fileName, languageVersion, onError, shouldCreate) => {
      if (!fileName.includes('/node_modules/')) return read(fileName, languageVersion, onError, shouldCreate);
      const key = `${fileName}\0${JSON.stringify(languageVersion)}`;
      const cached = parsedDeclarations.get(key);
      if (cached) return cached;
      const parsed = read(fileName, languageVersion, onError, shouldCreate);
      if (parsed) parsedDeclarations.set(key, parsed);
      return parsed;
    };
  }
  return ts.createEmitAndSemanticDiagnosticsBuilderProgram(...args);
}

/** `tsc -b project` in `dir`: whether it succeeded, and its diagnostics as tsc prints them. */
function build(dir: string, project: string): { code: number; output: string } {
  const messages: string[] = [];
  const formatHost: ts.FormatDiagnosticsHost = {
    getCanonicalFileName: (f) => f,
    getCurrentDirectory: () => dir,
    getNewLine: () => '\n',
  };
  const report = (d: ts.Diagnostic) => messages.push(ts.formatDiagnostic(d, formatHost));
  const system: ts.System = { ...ts.sys, getCurrentDirectory: () => dir };
  const host = ts.createSolutionBuilderHost(system, createProgram, report, report);
  const status = ts.createSolutionBuilder(host, [join(dir, project)], {}).build();
  return { code: status === ts.ExitStatus.Success ? 0 : 1, output: messages.join('') };
}

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
    return build(dir, project);
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
