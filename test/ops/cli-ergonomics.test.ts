/**
 * CLI ergonomics: the table and progress helpers, `--help` with examples and
 * exit codes, `--json` where a command prints results.
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { createProgress, formatBytes } from '../../cli/progress.js';
import { renderTable } from '../../cli/table.js';
import { root } from '../packaging/process-helpers.js';

const main = resolve(root, 'dist/cli/main.js');

/** Runs the built CLI (fast: no TypeScript transform per call). */
function runCli(args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  assert.ok(existsSync(main), 'dist/cli/main.js missing: run npx tsc -b first');
  return new Promise((done) =>
    execFile(process.execPath, [main, ...args], { cwd: root }, (err, stdout, stderr) =>
      done({ code: err ? Number(err.code ?? 1) : 0, stdout, stderr }),
    ),
  );
}

test('renderTable: aligned columns, numbers right, long cells cut, empty says so', () => {
  const rows = [
    { id: 'a', n: 5, note: 'short' },
    { id: 'longer-id', n: 1234, note: 'a note that is far too long' },
  ];
  const text = renderTable(
    [
      { header: 'ID', value: (r: (typeof rows)[number]) => r.id },
      { header: 'N', value: (r: (typeof rows)[number]) => r.n, align: 'right' },
      { header: 'NOTE', value: (r: (typeof rows)[number]) => r.note, max: 10 },
    ],
    rows,
  );
  assert.equal(
    text,
    ['ID            N  NOTE', 'a             5  short', 'longer-id  1234  a note th…'].join('\n'),
  );
  assert.equal(renderTable([{ header: 'X', value: () => 1 }], [], '(no rows)'), 'X\n(no rows)');
});

test('progress: draws on a TTY stream only, in place, throttled, finished on its own line', () => {
  const written: string[] = [];
  let now = 0;
  const tty = { isTTY: true, columns: 80, write: (s: string) => written.push(s) };
  const bar = createProgress('push', { stream: tty, unit: 'bytes', now: () => now });
  bar.update(0, 10 * 1024 * 1024);
  now += 10;
  bar.update(1024 * 1024); // throttled: within 100 ms
  now += 200;
  bar.update(5 * 1024 * 1024, undefined, 'clf@2.0.0');
  bar.update(10 * 1024 * 1024); // complete: drawn at once
  bar.finish('pushed clf@2.0.0');
  assert.equal(written.length, 5);
  const clear = '\r\u001b[2K';
  assert.ok(
    written.slice(0, 3).every((w) => w.startsWith(clear)),
    'each redraw clears its line',
  );
  assert.match(written[0]?.slice(clear.length) ?? '', /^push \[-+\]\s+0% 0 B\/10\.0 MiB$/);
  assert.match(written[1] ?? '', / 50% 5\.0 MiB\/10\.0 MiB clf@2\.0\.0$/);
  assert.match(written[2] ?? '', /\[#+\] 100%/);
  assert.equal(written[3], clear);
  assert.equal(written[4], 'pushed clf@2.0.0\n');
  const piped: string[] = [];
  const off = createProgress('push', { stream: { isTTY: false, write: (s: string) => piped.push(s) } });
  off.update(1, 2);
  off.finish('done');
  assert.deepEqual(piped, [], 'nothing on a pipe');
  assert.equal(formatBytes(1536), '1.5 KiB');
});

test('every command answers --help with usage and examples; the overview documents exit codes', async () => {
  const overview = await runCli(['--help']);
  assert.equal(overview.code, 0);
  assert.match(
    overview.stdout,
    /Exit codes: 0 ok, 1 failed, 2 bad usage or configuration, 3 hub or agent unreachable/,
  );
  const commands = [...overview.stdout.matchAll(/^ {2}([a-z]+)\s/gm)].map((m) => m[1] as string);
  assert.ok(commands.length >= 5, overview.stdout);
  const helps = await Promise.all(
    [...new Set(commands)].map(async (c) => [c, await runCli([c, '--help'])] as const),
  );
  for (const [command, help] of helps) {
    assert.equal(help.code, 0, `${command}: ${help.stderr}`);
    assert.match(help.stdout, new RegExp(`^outpost ${command}`), command);
    assert.match(help.stdout, /Examples:\n {2}/, `${command} --help has examples`);
  }
  const install = await runCli(['agent', 'install', '--help']);
  assert.match(install.stdout, /^outpost agent install/);
  assert.match(install.stdout, /Examples:/);
  const unknown = await runCli(['frobnicate']);
  assert.equal(unknown.code, 2);
});

test('hub --json: the start-up line is one JSON object with the URLs', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'outpost-hub-json-'));
  const child = spawn(
    process.execPath,
    [
      main,
      'hub',
      '--json',
      '--data-dir',
      dir,
      '--http.port',
      '0',
      '--mqtt.port',
      '0',
      '--http.host',
      '127.0.0.1',
      '--mqtt.host',
      '127.0.0.1',
      '--log-level',
      'warn',
    ],
    { cwd: root },
  );
  t.after(() => {
    child.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  });
  const line = await new Promise<string>((done, fail) => {
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('\n')) done(out.split('\n')[0] as string);
    });
    child.once('exit', (code) => fail(new Error(`hub exited ${code}: ${out}`)));
  });
  const started = JSON.parse(line);
  assert.match(started.http, /^http:\/\/127\.0\.0\.1:\d+$/);
  assert.match(started.mqtt, /^mqtt:\/\/127\.0\.0\.1:\d+$/);
  assert.equal(started.dataDir, dir);
  assert.equal((await fetch(`${started.http}/metrics`)).status, 200);
});
