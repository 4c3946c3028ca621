/**
 * Progress for long work as wired into the commands: the counting upload body
 * of `models push`, the round counter of `fl simulate`, the DELIVERY cell of `devices list`.
 * Checked on fake TTY/pipe streams (no terminal needed); the real push runs in
 * test/delivery/cli.test.ts and the real device listing in test/cli/devices.test.ts.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createReadStream, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { test } from 'node:test';
import { deliveryCell } from '../../cli/commands/devices.js';
import { simulateProgress } from '../../cli/commands/fl.js';
import { countingBody } from '../../cli/counting-body.js';

async function drain(body: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

test('countingBody streams bytes unchanged and counts them up to the size (memory and file)', async () => {
  const data = randomBytes(200 * 1024 + 17);
  const seen: number[] = [];
  assert.deepEqual(await drain(countingBody(data, (n) => seen.push(n))), data);
  assert.ok(seen.length >= 4, `64 KiB chunks: ${seen.length} updates`);
  assert.ok(
    seen.every((n, i) => i === 0 || n > (seen[i - 1] ?? 0)),
    'strictly increasing',
  );
  assert.equal(seen.at(-1), data.byteLength);

  const dir = mkdtempSync(join(tmpdir(), 'outpost-progress-'));
  try {
    const file = join(dir, 'model.onnx');
    writeFileSync(file, data);
    let last = 0;
    assert.deepEqual(await drain(countingBody(createReadStream(file), (n) => (last = n))), data);
    assert.equal(last, data.byteLength);
    const missing = countingBody(createReadStream(join(dir, 'absent.onnx')), () => undefined);
    await assert.rejects(drain(missing), /ENOENT/, 'a read error fails the body');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

const round = (n: number) => ({ round: n, accuracy: 0.5 + n / 100, loss: 1 / n, clients: 10 }) as never;

test('fl simulate progress: a round counter on a TTY, one line per round on a pipe', () => {
  const tty: string[] = [];
  const onTty = simulateProgress(3, { isTTY: true, columns: 100, write: (s) => tty.push(s) });
  for (const n of [1, 2, 3]) onTty.onRound(round(n));
  onTty.finish();
  assert.match(tty[0] ?? '', /simulate \[-+\]\s+0% 0\/3$/);
  assert.match(tty.at(-2) ?? '', /simulate \[#+\] 100% 3\/3 acc 53\.00%$/);
  assert.equal(tty.at(-1), '\r\u001b[2K', 'the bar is cleared at the end');
  assert.ok(!tty.some((s) => s.includes('\n')), 'no line breaks: redrawn in place');

  for (const bar of [false, undefined]) {
    const piped: string[] = [];
    const stream = { isTTY: bar === false, write: (s: string) => piped.push(s) };
    const onPipe = simulateProgress(3, stream, bar);
    onPipe.onRound(round(1));
    onPipe.onRound(round(2));
    onPipe.finish();
    assert.equal(piped.length, 2);
    assert.match(piped[1] ?? '', /^round 2: accuracy 52\.00%, loss 0\.5000, 10 clients \(\d+\.\d s\)\n$/);
  }
});

test('devices list DELIVERY cell: download percent, refusal, active version', () => {
  assert.equal(deliveryCell(undefined), '');
  assert.equal(
    deliveryCell([
      {
        name: 'digits',
        desired: '1.2.0',
        active: { version: '1.0.0' },
        downloading: { version: '1.2.0', bytes: 43_999, total: 100_000 },
      },
      {
        name: 'clf',
        desired: '2.0.0',
        active: { version: '1.0.0' },
        refused: { version: '2.0.0', code: 'AGENT_X' },
      },
      { name: 'kws', active: { version: '3.1.0' }, refused: { version: '3.0.9', code: 'AGENT_X' } },
      { name: 'new', desired: '0.1.0', downloading: { version: '0.1.0', bytes: 0, total: 0 } },
      { name: 'none' },
    ]),
    'digits 1.2.0 43%, clf 2.0.0 refused AGENT_X, kws 3.1.0, new 0.1.0 0%, none -',
  );
});
