import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { it } from 'node:test';
import { entryPoint } from '../helpers/paths.js';

// A fault-suite run stopped early (Ctrl-C on a long run) still reports what it checked: the
// table of the trials that finished, how many passed, and that the rest did not run.

it('an interrupted fault run prints the table of the trials that finished, and exits 130', async () => {
  const main = entryPoint('test/faults/main');
  const child = spawn(
    process.execPath,
    [...main.execArgv, main.file, '--kinds', 'agent-kill', '--trials', '1000', '--verbose'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  let interrupted = false;
  child.stdout.on('data', (chunk: Buffer) => {
    out += chunk.toString();
    // Two trials finished: stop the run as an operator would.
    if (!interrupted && (out.match(/^ok {3}agent-kill #/gm) ?? []).length >= 2) {
      interrupted = true;
      child.kill('SIGINT');
    }
  });
  child.stderr.on('data', (chunk: Buffer) => {
    out += chunk.toString();
  });
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  assert.equal(code, 130, out);
  const row = out.match(/^agent-kill\s+(\d+)\s+\d+\s+(\d+)\s+(\d+)\s+\d+\s+0\s+0\s+pass$/m);
  assert.ok(row, `no table row for the finished trials:\n${out}`);
  const finished = Number(row[1]);
  assert.ok(finished >= 2 && finished < 1000, out);
  assert.match(out, new RegExp(`faults: ${finished} passed, 0 failed, the rest not run \\(interrupted\\)`));
  const kept = out.match(/faults: work dir kept: (\S+)/)?.[1];
  assert.ok(kept, out);
  rmSync(kept, { recursive: true, force: true });
});
