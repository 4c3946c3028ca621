import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, test } from 'node:test';
import { NatsReloader } from '../../hub/broker/nats-reload.js';
import { Cleanups, tempDir, waitFor } from '../helpers/fixtures.js';

// The reloader signals real processes: each stand-in "node" counts the SIGHUPs it gets, as a
// nats-server node reloads on one, and writes its PID file as nats-server does.

const cleanups = new Cleanups();
afterEach(() => cleanups.run());

interface Node {
  child: ChildProcess;
  hups: () => number;
}

async function startNode(pidFile: string): Promise<Node> {
  const child = spawn(
    process.execPath,
    [
      '-e',
      "process.on('SIGHUP', () => console.log('hup')); console.log('ready'); setInterval(() => {}, 1000);",
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let hups = 0;
  let ready = false;
  child.stdout?.on('data', (chunk: Buffer) => {
    const text = chunk.toString();
    if (text.includes('ready')) ready = true;
    hups += (text.match(/hup/g) ?? []).length;
  });
  cleanups.add(() => child.kill('SIGKILL'));
  // Its SIGHUP handler is set once it says so (before, a SIGHUP would end it).
  await waitFor(() => ready, 'the stand-in node to start');
  writeFileSync(pidFile, `${child.pid}\n`);
  return { child, hups: () => hups };
}

test('a reload warms first when a node process is new (the first reload, or a node restarted since), never twice for the same process', async () => {
  const dir = tempDir('outpost-nats-reload-');
  cleanups.add(() => dir.remove());
  const pidFiles = [join(dir.path, 'n1.pid'), join(dir.path, 'n2.pid')];
  const first = await startNode(pidFiles[0] as string);
  const second = await startNode(pidFiles[1] as string);
  let warms = 0;
  const reloader = new NatsReloader(pidFiles, async () => {
    warms++;
  });

  const r1 = await reloader.reload();
  assert.deepEqual([r1.warmed, warms, r1.failed], [true, 1, []]);
  assert.deepEqual(r1.signalled, [first.child.pid, second.child.pid]);
  await waitFor(() => first.hups() === 1 && second.hups() === 1, 'both nodes got the reload');

  const r2 = await reloader.reload();
  assert.deepEqual([r2.warmed, warms], [false, 1], 'the same processes are not warmed again');
  await waitFor(() => first.hups() === 2 && second.hups() === 2, 'both nodes got the second reload');

  // Node 2 restarts: a new process behind the same PID file.
  second.child.kill('SIGKILL');
  const restarted = await startNode(pidFiles[1] as string);
  const r3 = await reloader.reload();
  assert.deepEqual([r3.warmed, warms], [true, 2], 'the restarted node is warmed before its reload');
  assert.deepEqual(r3.signalled, [first.child.pid, restarted.child.pid]);
  await waitFor(() => restarted.hups() === 1 && first.hups() === 3, 'the restarted node got the reload');
});

test('warmAll counts the current processes as warmed; a missing PID file is reported, not thrown', async () => {
  const dir = tempDir('outpost-nats-reload-');
  cleanups.add(() => dir.remove());
  const pidFile = join(dir.path, 'n1.pid');
  const node = await startNode(pidFile);
  let warms = 0;
  const missing = join(dir.path, 'absent.pid');
  const reloader = new NatsReloader([pidFile, missing], async () => {
    warms++;
  });
  await reloader.warmAll();
  assert.equal(warms, 1);
  const r = await reloader.reload();
  assert.equal(r.warmed, false, 'the node warmed at start is not warmed again');
  assert.deepEqual(r.signalled, [node.child.pid]);
  assert.equal(r.failed.length, 1);
  assert.match(r.failed[0] as string, /absent\.pid: ENOENT/);
  await waitFor(() => node.hups() === 1, 'the node got the reload');
});
