import { fileURLToPath } from 'node:url';

/**
 * A module of this repository as a node entry point, `relative` to this folder and written
 * without extension: the `.ts` source with tsx when the bench runs from source (`npm run
 * bench`), the compiled `.js` when it runs from `dist/` (as the test suite runs it).
 */
export function entryPoint(relative: string): { file: string; execArgv: string[] } {
  const fromSource = import.meta.url.endsWith('.ts');
  const file = fileURLToPath(new URL(`${relative}${fromSource ? '.ts' : '.js'}`, import.meta.url));
  return { file, execArgv: fromSource ? ['--import', 'tsx'] : [] };
}
