/**
 * No Docker engine runs here, so the images cannot be built in CI. What a client-less check
 * can prove, it proves: every path the Dockerfiles copy exists, the .dockerignore keeps
 * build outputs out, and the command each image runs is one the CLI really has, answering
 * its --help with exit 0.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { runCli } from '../cli/run-cli.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

for (const [file, command] of [
  ['docker/Dockerfile.hub', 'hub'],
  ['docker/Dockerfile.agent', 'agent'],
] as const) {
  test(`${file} copies paths that exist and runs 'outpost ${command}'`, async () => {
    const text = readFileSync(resolve(root, file), 'utf8');
    const copies = [...text.matchAll(/^COPY (?!--from)(.+) (\S+)$/gm)].flatMap((m) =>
      (m[1] ?? '').split(' '),
    );
    assert.ok(copies.length > 0);
    for (const source of copies)
      assert.ok(existsSync(resolve(root, source)), `${file}: COPY ${source} is missing`);
    assert.match(text, /^ENTRYPOINT \["node", "dist\/cli\/main\.js"\]$/m);
    assert.match(text, new RegExp(`^CMD \\["${command}"\\]$`, 'm'));
    // `tsc -b cli` must emit the entry point the image runs.
    const cliConfig = JSON.parse(readFileSync(resolve(root, 'cli/tsconfig.json'), 'utf8'));
    assert.equal(cliConfig.compilerOptions.outDir, '../dist/cli');
    const help = await runCli([command, '--help']);
    assert.equal(help.code, 0, help.stderr);
    assert.match(help.stdout, new RegExp(`^outpost ${command}`));
  });
}

test('.dockerignore keeps local builds and dependencies out of the context', () => {
  const lines = readFileSync(resolve(root, '.dockerignore'), 'utf8').split('\n');
  for (const entry of ['node_modules', 'dist', '.git']) assert.ok(lines.includes(entry), entry);
});
