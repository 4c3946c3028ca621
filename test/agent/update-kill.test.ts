import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { currentPlatform } from '../../agent/update/bundle.js';
import { HEALTHY_MESSAGE, Launcher } from '../../agent/update/launcher.js';
import { Slots } from '../../agent/update/slots.js';
import { generateSigningKeyPair, signAgentBundle } from '../../shared/index.js';
import { tempDir, testLogger, waitFor } from '../helpers/agent.js';
import { entryPoint } from '../helpers/paths.js';

const CHILD = entryPoint('test/agent/update-kill-child');
const AGENT = `process.send({ type: '${HEALTHY_MESSAGE}' });\nsetInterval(() => {}, 1000);\nprocess.on('SIGTERM', () => process.exit(0));\n`;
/** Kill points, ms after the launcher process starts: module loading, verify, extract, switch, first start, confirmation. */
const KILL_AFTER_MS = [0, 150, 400, 700, 1000, 1400, 2000, 3000];

describe('agent update: killed at any point', () => {
  const cleanups: Array<() => unknown> = [];
  after(async () => {
    for (const c of cleanups.reverse()) await c();
  });

  it('ends on one consistent version after each kill', async () => {
    const dir = tempDir('outpost-update-kill-');
    cleanups.push(() => dir.remove());
    const slots = new Slots(join(dir.path, 'slots'));
    slots.init('0.1.0');
    mkdirSync(slots.dir('a'), { recursive: true });
    writeFileSync(join(slots.dir('a'), 'agent.mjs'), AGENT);
    const src = join(dir.path, 'src');
    mkdirSync(src);
    writeFileSync(join(src, 'agent.mjs'), AGENT);
    const bundle = join(dir.path, 'bundle.tgz');
    execFileSync('tar', ['-czf', bundle, '-C', src, '.']);
    const bytes = readFileSync(bundle);
    const keys = generateSigningKeyPair();
    const signed = signAgentBundle(
      {
        kind: 'agent',
        version: '0.2.0',
        sha256: createHash('sha256').update(bytes).digest('hex'),
        size: bytes.byteLength,
        platform: currentPlatform(),
        createdAt: Date.now(),
      },
      keys,
    );
    writeFileSync(join(dir.path, 'signed.json'), JSON.stringify(signed));
    writeFileSync(join(dir.path, 'trusted.pem'), keys.publicKeyPem);

    for (const killAfter of KILL_AFTER_MS) {
      const child = spawn(
        process.execPath,
        [
          ...CHILD.execArgv,
          CHILD.file,
          dir.path,
          bundle,
          join(dir.path, 'signed.json'),
          join(dir.path, 'trusted.pem'),
        ],
        { detached: true, stdio: 'ignore' },
      );
      const exited = new Promise((resolve) => child.once('exit', resolve));
      await new Promise((resolve) => setTimeout(resolve, killAfter));
      // Like systemd stopping the unit's cgroup: the launcher and its agent together.
      try {
        process.kill(-(child.pid as number), 'SIGKILL');
      } catch {
        // already gone
      }
      await exited;

      // One consistent state: it parses, the current slot is whole, a trial names it.
      const state = slots.load();
      const version = state.versions[state.current];
      assert.ok(
        version === '0.1.0' || version === '0.2.0',
        `kill at ${killAfter} ms: ${JSON.stringify(state)}`,
      );
      assert.ok(
        existsSync(join(slots.dir(state.current), 'agent.mjs')),
        `kill at ${killAfter} ms: slot whole`,
      );
      if (state.trial) assert.equal(state.trial.slot, state.current);
    }

    // Started again, the device settles on the new version, confirmed.
    const launcher = new Launcher({
      slots,
      entry: (slotDir) => ({ file: join(slotDir, 'agent.mjs'), args: [] }),
      log: testLogger(),
    });
    cleanups.push(() => launcher.stop());
    launcher.start();
    await waitFor(
      () => slots.load().trial === undefined && launcher.running?.trial === false,
      'a confirmed version',
      30_000,
    );
    const final = slots.load();
    assert.equal(launcher.running?.version, final.versions[final.current]);
  });
});
