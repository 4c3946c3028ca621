import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { describe, it } from 'node:test';
import { natsSkip } from '../helpers/nats-cluster.js';
import { entryPoint } from '../helpers/paths.js';
import { findPeer, nginxPeer } from '../helpers/peer.js';

// Benchmarks whose comparison peer (nginx, Mosquitto) is not installed skip that column with
// a message instead of crashing on `spawn ENOENT`.

const BENCH = entryPoint('bench/main');

function bench(args: string[], env: Record<string, string>): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [...BENCH.execArgv, BENCH.file, ...args],
      { env: { ...process.env, ...env }, timeout: 120_000 },
      (err, stdout, stderr) => resolve({ code: err ? Number(err.code ?? 1) : 0, out: stdout + stderr }),
    );
  });
}

describe('benchmark peers', () => {
  it('finds an installed peer and names a missing one with how to install it', () => {
    const present = findPeer('node', 'OUTPOST_TEST_NO_SUCH_VAR', process.execPath, 'x');
    assert.equal(present.missing, undefined);
    const absent = findPeer(
      'thing',
      'OUTPOST_TEST_NO_SUCH_VAR',
      '/nonexistent/thing',
      'apt-get install thing',
    );
    assert.match(
      absent.missing ?? '',
      /thing skipped: \/nonexistent\/thing is not installed \(apt-get install thing/,
    );
  });

  it('takes the nginx path from OUTPOST_BENCH_NGINX', () => {
    const saved = process.env.OUTPOST_BENCH_NGINX;
    process.env.OUTPOST_BENCH_NGINX = '/nonexistent/nginx';
    try {
      assert.match(nginxPeer().missing ?? '', /nginx skipped: \/nonexistent\/nginx is not installed/);
    } finally {
      if (saved === undefined) delete process.env.OUTPOST_BENCH_NGINX;
      else process.env.OUTPOST_BENCH_NGINX = saved;
    }
  });

  it('fleet with only Mosquitto, which is missing, says so and exits 0', async () => {
    const res = await bench(['fleet', '--broker', 'mosquitto'], {
      OUTPOST_BENCH_MOSQUITTO: '/nonexistent/mosquitto',
    });
    assert.equal(res.code, 0, res.out);
    assert.match(res.out, /Mosquitto skipped: \/nonexistent\/mosquitto is not installed/);
    assert.doesNotMatch(res.out, /ENOENT/);
  });

  it('fleet with only NATS and no PostgreSQL for its replicas says so and exits 0', {
    skip: natsSkip(),
  }, async () => {
    const res = await bench(['fleet', '--broker', 'nats', '--devices', '2'], {
      OUTPOST_BENCH_PG_URL: 'postgres://postgres@127.0.0.1:1/test',
    });
    assert.equal(res.code, 0, res.out);
    assert.match(
      res.out,
      /fleet: nothing to run — NATS skipped: its hub replicas need PostgreSQL, unreachable at 127\.0\.0\.1:1/,
    );
  });
});
