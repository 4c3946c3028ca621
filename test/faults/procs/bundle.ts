import { renameSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { build } from 'esbuild';
import { entryPoint } from './spawn.js';

/** Packages with native code (or loaded only by inference) that stay outside the bundle. */
const EXTERNAL = ['better-sqlite3', 'onnxruntime-node', 'onnxruntime-web', '@tensorflow/*'];

/**
 * Bundles the agent child (`children/agent-child`) and everything it imports into one ES
 * module next to it, and returns it as a node entry point. The suite starts an agent process
 * for every kill, and node spent two thirds of each start resolving and loading ~700 module
 * files (0.8-0.9 s of CPU against 0.3 s for the same code as one file); bundling changes how
 * the code is loaded, not the code. The bundle lands beside the child so that the packages
 * left out, the firmware profiles and every other path resolve as they do unbundled; it is
 * written under a temporary name and renamed, so two suites never read half a file.
 */
export async function bundledAgentChild(): Promise<{ file: string; execArgv: string[] }> {
  const source = entryPoint('../children/agent-child').file;
  const file = join(dirname(source), 'agent-child.bundle.mjs');
  const partial = `${file}.${process.pid}.partial`;
  await build({
    entryPoints: [source],
    outfile: partial,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: `node${process.versions.node.split('.')[0]}`,
    external: EXTERNAL,
    // CommonJS packages inside an ES module bundle still call `require` for node's built-ins.
    banner: {
      js: "import { createRequire as __outpostRequire } from 'node:module'; const require = __outpostRequire(import.meta.url);",
    },
    logLevel: 'error',
  });
  renameSync(partial, file);
  return { file, execArgv: [] };
}
