/**
 * Where the repository's files are, whether the suite runs from source (through tsx) or
 * compiled under `dist/test/` (what `npm test` runs: no TypeScript transform per process).
 */
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** True when this module runs as TypeScript source, false when compiled into `dist/`. */
export const fromSource = import.meta.url.endsWith('.ts');

/** The repository root (the folder of package.json), from `test/helpers/` or `dist/test/helpers/`. */
export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), fromSource ? '../..' : '../../..');

/**
 * A module of this repository as a node entry point, `relative` to the repository root and
 * written without extension (`cli/main`): its source with tsx when the suite runs from
 * source, its compiled `dist/` file otherwise, so a child runs the same build as its test.
 */
export function entryPoint(relative: string): { file: string; execArgv: string[] } {
  return fromSource
    ? { file: join(repoRoot, `${relative}.ts`), execArgv: ['--import', 'tsx'] }
    : { file: join(repoRoot, 'dist', `${relative}.js`), execArgv: [] };
}
