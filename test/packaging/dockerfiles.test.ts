/**
 * No Docker engine runs here and hadolint is not in Debian, so the images cannot be built or
 * linted by a tool in CI. What a client-less check can prove, it proves:
 * pinned bases, multi-stage builds whose runtime stage installs production dependencies only
 * (`npm ci --omit=dev`), copies the built output, runs as a non-root user, has a HEALTHCHECK
 * in exec form, and runs a command the CLI really has; every path copied from the context
 * exists and every TypeScript project the CLI references is copied.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { test } from 'node:test';
import { repoRoot } from '../helpers/paths.js';
import { parseDockerfile } from './dockerfile-parse.js';
import { runBuiltCli } from './process-helpers.js';

const root = repoRoot;

const IMAGES = [
  { file: 'docker/Dockerfile.hub', command: 'hub', port: 8080 },
  { file: 'docker/Dockerfile.agent', command: 'agent', port: 7070 },
  { file: 'docker/Dockerfile.agent-jetson', command: 'agent', port: 7070 },
] as const;

/** Every project `tsc -b cli` builds: cli and its references, transitively. */
function cliProjects(): string[] {
  const seen = new Set<string>();
  const visit = (dir: string) => {
    if (seen.has(dir)) return;
    seen.add(dir);
    const config = JSON.parse(readFileSync(resolve(root, dir, 'tsconfig.json'), 'utf8')) as {
      references?: { path: string }[];
    };
    for (const ref of config.references ?? []) visit(resolve(root, dir, ref.path).slice(root.length + 1));
  };
  visit('cli');
  return [...seen];
}

for (const { file, command, port } of IMAGES) {
  test(`${file}: pinned, multi-stage, prod deps only, non-root, healthcheck, runs 'outpost ${command}'`, async () => {
    const df = parseDockerfile(readFileSync(resolve(root, file), 'utf8'));
    assert.ok(df.stages.length >= 3, `${file}: build, deps and runtime stages expected`);
    for (const stage of df.stages) {
      // Pinned: an explicit version tag (x.y.z or rNN.N) or a digest; never latest or bare.
      assert.match(
        stage.image,
        /(:[^:@]*\d+\.\d+[^:@]*|@sha256:[0-9a-f]{64})$/,
        `${file}: base ${stage.from} is not pinned`,
      );
      assert.doesNotMatch(stage.image, /:latest$/);
    }
    const runtime = df.stages.at(-1);
    assert.ok(runtime);
    assert.equal(runtime.name, undefined, `${file}: the last stage is the runtime`);
    const user = runtime.instructions.filter((i) => i.keyword === 'USER').at(-1);
    assert.ok(user, `${file}: runtime stage has no USER`);
    assert.doesNotMatch(user.args, /^(root|0)(:|$)/, `${file}: runtime runs as root`);
    const health = runtime.instructions.find((i) => i.keyword === 'HEALTHCHECK');
    assert.ok(health, `${file}: no HEALTHCHECK`);
    assert.match(health.args, /CMD \["node", "-e", /, `${file}: HEALTHCHECK in exec form with node`);
    assert.ok(health.args.includes(`http://127.0.0.1:${port}/`), `${file}: HEALTHCHECK probes port ${port}`);
    // Production dependencies: the runtime's node_modules come from a stage that ran npm ci --omit=dev.
    const nodeModules = runtime.instructions.find(
      (i) => i.keyword === 'COPY' && / node_modules$/.test(i.args),
    );
    assert.ok(nodeModules, `${file}: runtime copies no node_modules`);
    const depsStage = df.stages.find((s) => nodeModules.args.includes(`--from=${s.name} `));
    assert.ok(depsStage, `${file}: node_modules come from an unknown stage`);
    assert.ok(
      depsStage.instructions.some((i) => i.keyword === 'RUN' && /npm ci --omit=dev\b/.test(i.args)),
      `${file}: stage ${depsStage.name} does not run npm ci --omit=dev`,
    );
    assert.ok(
      !depsStage.instructions.some(
        (i) => i.keyword === 'RUN' && /npm (ci|install)(?!.*--omit=dev)/.test(i.args),
      ),
      `${file}: stage ${depsStage.name} also installs dev dependencies`,
    );
    // Built output: dist from the stage that ran tsc -b cli.
    const dist = runtime.instructions.find((i) => i.keyword === 'COPY' && /\/app\/dist dist$/.test(i.args));
    assert.ok(dist, `${file}: runtime copies no built dist`);
    const buildStage = df.stages.find((s) => dist.args.includes(`--from=${s.name} `));
    assert.ok(buildStage, `${file}: dist comes from an unknown stage`);
    assert.ok(buildStage.instructions.some((i) => i.keyword === 'RUN' && /tsc -b cli/.test(i.args)));
    // Every project the CLI build needs is in the build context of that stage.
    const copied = new Set(
      buildStage.instructions
        .filter((i) => i.keyword === 'COPY' && !i.args.startsWith('--from'))
        .flatMap((i) => i.args.split(/\s+/).slice(0, -1)),
    );
    for (const project of cliProjects())
      assert.ok(copied.has(project), `${file}: tsc -b cli needs ${project}/`);
    for (const source of [...df.stages.flatMap((s) => s.instructions)]
      .filter((i) => i.keyword === 'COPY' && !i.args.startsWith('--from'))
      .flatMap((i) => i.args.split(/\s+/).slice(0, -1)))
      assert.ok(existsSync(resolve(root, source)), `${file}: COPY ${source} is missing`);
    assert.ok(
      runtime.instructions.some(
        (i) => i.keyword === 'ENTRYPOINT' && i.args === '["node", "dist/cli/main.js"]',
      ),
    );
    assert.ok(runtime.instructions.some((i) => i.keyword === 'CMD' && i.args === `["${command}"]`));
    // No apt cache left behind, no ADD of remote URLs.
    for (const i of df.stages.flatMap((s) => s.instructions)) {
      if (i.keyword === 'RUN' && i.args.includes('apt-get install')) {
        assert.match(
          i.args,
          /--no-install-recommends/,
          `${file}: apt-get install without --no-install-recommends`,
        );
        assert.match(i.args, /rm -rf \/var\/lib\/apt\/lists/, `${file}: apt lists left in the layer`);
      }
      assert.notEqual(i.keyword, 'ADD', `${file}: use COPY, not ADD`);
    }
    const help = await runBuiltCli([command, '--help']);
    assert.equal(help.code, 0, help.stderr);
    assert.match(help.stdout, new RegExp(`^outpost ${command}`));
  });
}

test('the Jetson image is based on NVIDIA L4T and says how to get onnxruntime on the GPU', () => {
  const text = readFileSync(resolve(root, 'docker/Dockerfile.agent-jetson'), 'utf8');
  const df = parseDockerfile(text);
  assert.match(df.stages.at(-1)?.image ?? '', /^nvcr\.io\/nvidia\/l4t-/);
  assert.match(text, /--use_cuda --use_tensorrt --build_nodejs/);
  assert.match(text, /--runtime nvidia/);
});

test('.dockerignore keeps local builds and dependencies out of the context', () => {
  const lines = readFileSync(resolve(root, '.dockerignore'), 'utf8').split('\n');
  for (const entry of ['node_modules', 'dist', '.git']) assert.ok(lines.includes(entry), entry);
});
