import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { freePort } from '../../hub/broker/mosquitto-process.js';
import { tempDir } from '../helpers/hub.js';
import { classifierModel } from '../helpers/models.js';
import { root } from '../packaging/process-helpers.js';

/** The fenced `sh` blocks of a markdown file, in order, as one script. */
function shellBlocks(markdown: string): string {
  const blocks = [...markdown.matchAll(/^```sh\n([\s\S]*?)^```$/gm)].map((m) => m[1] as string);
  return blocks.join('\n');
}

/**
 * The Quick start as an operator follows it: the doc's shell blocks run as one bash script
 * (set -euo pipefail) in an empty directory, with `outpost` on PATH (the CLI at `outpost.mainJs`
 * run by this node, or the `outpost` an install put in `outpost.binDir`), on free ports; the
 * device must come online and activate the pushed model using nothing but the join token.
 */
export async function runQuickStart(outpost: { mainJs: string } | { binDir: string }): Promise<void> {
  const script = shellBlocks(readFileSync(resolve(root, 'docs/getting-started.md'), 'utf8'));
  assert.match(script, /outpost agent join "\$TOKEN"/);
  const work = await tempDir('outpost-quickstart-');
  let bin: string;
  if ('binDir' in outpost) bin = outpost.binDir;
  else {
    bin = join(work.path, 'bin');
    mkdirSync(bin);
    writeFileSync(join(bin, 'outpost'), `#!/bin/sh\nexec "${process.execPath}" "${outpost.mainJs}" "$@"\n`);
    chmodSync(join(bin, 'outpost'), 0o755);
  }
  writeFileSync(join(work.path, 'model.onnx'), classifierModel(11).bytes);
  const httpPort = await freePort();
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env))
    if (v !== undefined && !k.startsWith('OUTPOST_')) env[k] = v;
  Object.assign(env, {
    PATH: `${bin}:${process.env.PATH}`,
    HUB_HTTP_PORT: String(httpPort),
    HUB_MQTT_PORT: String(await freePort()),
    OUTPOST_AGENT_API__PORT: String(await freePort()),
  });
  const child = spawn('bash', ['-euo', 'pipefail', '-c', script], {
    cwd: work.path,
    env,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const out: string[] = [];
  child.stdout?.on('data', (d) => out.push(String(d)));
  child.stderr?.on('data', (d) => out.push(String(d)));
  try {
    const code = await new Promise<number | null>((done) => {
      const timer = setTimeout(() => done(null), 400_000);
      child.once('exit', (c) => {
        clearTimeout(timer);
        done(c);
      });
    });
    assert.equal(code, 0, `the Quick start failed:\n${out.join('')}`);
    const token = readFileSync(join(work.path, 'hub-data', 'admin-token'), 'utf8').trim();
    const res = await fetch(`http://127.0.0.1:${httpPort}/v1/devices/pi-01`, {
      headers: { authorization: `Bearer ${token}` },
    });
    const device = (await res.json()) as {
      online: boolean;
      reported?: { models?: Array<{ name: string; active?: { version: string } }> };
    };
    assert.equal(device.online, true, out.join(''));
    const model = device.reported?.models?.find((m) => m.name === 'quickstart');
    assert.equal(model?.active?.version, '1.0.0', out.join(''));
  } finally {
    // The hub and agent the script started in the background share its process group.
    try {
      process.kill(-(child.pid as number), 'SIGTERM');
    } catch {
      // Already gone.
    }
    await new Promise((r) => setTimeout(r, 2000));
    try {
      process.kill(-(child.pid as number), 'SIGKILL');
    } catch {
      // Gone.
    }
    await work.remove();
  }
}
