import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { lockDataDir } from '../../cli/data-dir-lock.js';
import { tempDir } from '../helpers/hub.js';
import { root, runBuiltCli, waitForOutput } from '../packaging/process-helpers.js';

// One process per data dir, ports in use named, status commands that never start a process.

describe('a running hub', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let other: Awaited<ReturnType<typeof tempDir>>;
  let hub: ChildProcess & { out: string[] };
  let httpPort: string;
  before(async () => {
    dir = await tempDir();
    other = await tempDir();
    const child = spawn(
      process.execPath,
      [
        resolve(root, 'dist/cli/main.js'),
        'hub',
        '--data-dir',
        dir.path,
        '--http.host',
        '127.0.0.1',
        '--http.port',
        '0',
        '--mqtt.host',
        '127.0.0.1',
        '--mqtt.port',
        '0',
        '--log-level',
        'warn',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    hub = Object.assign(child, { out: [] as string[] });
    child.stdout?.on('data', (d) => hub.out.push(String(d)));
    child.stderr?.on('data', (d) => hub.out.push(String(d)));
    httpPort = await waitForOutput(hub, /http http:\/\/127\.0\.0\.1:(\d+)/, 'the hub to listen');
  });
  after(async () => {
    if (hub.exitCode === null) {
      hub.kill('SIGTERM');
      await new Promise((done) => hub.once('exit', done));
    }
    await dir.remove();
    await other.remove();
  });

  test('a second process on its data dir exits 2 naming the holder pid', async () => {
    const second = await runBuiltCli(['hub', '--data-dir', dir.path, '--http.port', '0', '--mqtt.port', '0']);
    assert.equal(second.code, 2, second.stderr);
    assert.match(second.stderr, new RegExp(`in use by pid ${hub.pid} \\(outpost hub\\)`));
  });

  test('a port in use exits 2 naming the port', async () => {
    const second = await runBuiltCli([
      'hub',
      '--data-dir',
      other.path,
      '--http.host',
      '127.0.0.1',
      '--http.port',
      httpPort,
      '--mqtt.port',
      '0',
    ]);
    assert.equal(second.code, 2, second.stderr);
    assert.match(second.stderr, new RegExp(`port ${httpPort} on 127\\.0\\.0\\.1 is in use`));
    assert.doesNotMatch(second.stderr, /\n\s+at /, 'no stack trace');
  });
});

test('a lock left by a dead process is taken over', async () => {
  const dir = await tempDir();
  try {
    // A pid far above any pid_max default (4194304): no process can have it.
    writeFileSync(resolve(dir.path, 'outpost.lock'), '99999999 outpost hub\n');
    lockDataDir(dir.path, 'test');
    assert.match(readFileSync(resolve(dir.path, 'outpost.lock'), 'utf8'), new RegExp(`^${process.pid} test`));
  } finally {
    await dir.remove();
  }
});

test('outpost agent status asks an agent and never starts one; a stray word is refused', async () => {
  const status = await runBuiltCli(['agent', 'status', '--agent', 'http://127.0.0.1:9']);
  assert.equal(status.code, 3, status.stderr);
  assert.match(status.stderr, /cannot reach the agent at http:\/\/127\.0\.0\.1:9/);
  const typo = await runBuiltCli(['agent', 'stauts']);
  assert.equal(typo.code, 2);
  assert.match(typo.stderr, /unknown agent subcommand or argument "stauts"/);
});
