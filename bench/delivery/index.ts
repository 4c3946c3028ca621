import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { nginxPeer } from '../../test/helpers/peer.js';
import { entryPoint } from '../lib/entry-point.js';
import { millis, ratio } from '../lib/measure.js';
import { machine, table } from '../lib/report.js';
import type { Benchmark } from '../lib/types.js';
import { benchHub, enroll, Scratch } from '../outbox/fixture.js';
import { bigModel } from './model.js';
import { startNginx } from './nginx.js';
import { measureResume } from './resume.js';

const CLIENT = entryPoint('../delivery/load-client');

interface LoadResult {
  bytes: number;
  ms: number;
  failed: number;
}

/** Runs the load client in its own process (it must not share the hub's event loop). */
function load(url: string, count: number, authFile?: string): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [...CLIENT.execArgv, CLIENT.file, url, String(count), ...(authFile ? [authFile] : [])],
      { maxBuffer: 1024 * 1024, timeout: 600_000 },
      (err, stdout, stderr) =>
        err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(JSON.parse(stdout)),
    );
  });
}

const mbps = (r: LoadResult) => (r.bytes / 1024 ** 2 / r.ms) * 1000;

/**
 * `npm run bench -- delivery`: 100 protocol-level downloaders fetch one 50 MB
 * artifact at once from the hub (`GET /v1/artifacts/{sha}`, each with its own device's Basic
 * credentials) and from Debian's nginx serving the same file, alternating rounds in the same
 * run; aggregate throughput and their ratio. Then the resume cost of the agent's downloader
 * after a cut half-way: bytes sent twice and time against an uncut download.
 */
export const deliveryBenchmark: Benchmark = {
  description: '100 downloaders × 50 MB artifact: hub vs nginx throughput (ratio), resume cost after a cut',
  async run({ quick, progress }) {
    const scratch = new Scratch();
    const clients = quick ? 20 : 100;
    const sizeMb = quick ? 10 : 50;
    const rounds = quick ? 1 : 3;
    try {
      const hubDir = await scratch.dir();
      const hub = await benchHub(hubDir);
      try {
        progress(`registering a ${sizeMb} MB model`);
        const record = await hub.delivery.registry.registerVersion({
          name: 'bench',
          version: '1.0.0',
          bytes: bigModel(sizeMb * 1024 * 1024),
        });
        const variant = record.variants[0];
        if (!variant) throw new Error('no variant registered');
        progress(`enrolling ${clients} devices`);
        const auths: string[] = [];
        for (let i = 0; i < clients; i++) {
          const d = await enroll(hub);
          auths.push(`Basic ${Buffer.from(`${d.id}:${d.secret}`).toString('base64')}`);
        }
        const authFile = join(await scratch.dir(), 'auth.txt');
        await writeFile(authFile, auths.join('\n'));
        const hubUrl = `${hub.http.url}/v1/artifacts/${variant.sha256}`;
        // Each device's secret is verified once (scrypt) and then remembered for a minute:
        // warm that up so the rounds measure transfer, as a steady fleet sees it.
        await Promise.all(auths.map((a) => fetch(hubUrl, { method: 'HEAD', headers: { authorization: a } })));
        const nginx = nginxPeer();
        if (nginx.missing) progress(nginx.missing);
        const hubRuns: LoadResult[] = [];
        const nginxRuns: LoadResult[] = [];
        const server = nginx.missing
          ? undefined
          : await startNginx(nginx.bin, await scratch.dir(), join(hubDir, 'artifacts'));
        try {
          for (let r = 0; r < rounds; r++) {
            if (server) {
              progress(`round ${r + 1}/${rounds}: nginx`);
              nginxRuns.push(await load(`${server.url}/${variant.sha256}`, clients));
            }
            progress(`round ${r + 1}/${rounds}: hub`);
            hubRuns.push(await load(hubUrl, clients, authFile));
          }
        } finally {
          await server?.stop();
        }
        for (const run of [...hubRuns, ...nginxRuns]) {
          if (run.failed > 0 || run.bytes !== clients * variant.size) {
            throw new Error(`a load round lost downloads: ${JSON.stringify(run)}`);
          }
        }
        progress('resume cost');
        const resume = await measureResume(
          await scratch.dir(),
          { url: hubUrl, sha256: variant.sha256, size: variant.size, authorization: auths[0] ?? '' },
          rounds,
        );
        const best = (runs: LoadResult[]) =>
          runs.map(mbps).sort((a, b) => b - a)[runs.length >> 1] ?? Number.NaN;
        const hubMbps = best(hubRuns);
        const nginxMbps = best(nginxRuns);
        const mb = (n: number) => `${(n / 1024 ** 2).toFixed(1)} MiB`;
        return [
          `delivery benchmark${quick ? ' (--quick: small sizes, do not publish)' : ''} — ${machine()}`,
          '',
          `${clients} concurrent downloaders × one ${mb(variant.size)} artifact (median of ${rounds} alternating rounds, loopback):`,
          table(
            ['server', 'aggregate MiB/s', 'round time', 'hub ÷ nginx'],
            [
              nginx.missing
                ? ['nginx (sendfile)', 'skipped: not installed', '—', '—']
                : [
                    'nginx 1.22 (sendfile)',
                    nginxMbps.toFixed(0),
                    millis(((clients * variant.size) / 1024 ** 2 / nginxMbps) * 1000),
                    '—',
                  ],
              [
                'hub GET /v1/artifacts (device auth, streamed)',
                hubMbps.toFixed(0),
                millis(((clients * variant.size) / 1024 ** 2 / hubMbps) * 1000),
                nginx.missing ? '—' : ratio(hubMbps / nginxMbps),
              ],
            ],
          ),
          ...(nginx.missing ? [nginx.missing] : []),
          '',
          `Resume after a cut half-way (agent downloader, ${mb(resume.size)}, median of ${rounds}):`,
          table(
            ['uncut', 'cut + resume', 'ratio', 'resumed from', 'bytes sent twice'],
            [
              [
                millis(resume.uncutMs),
                millis(resume.cutMs),
                ratio(resume.cutMs / resume.uncutMs),
                mb(resume.resumedFrom),
                String(resume.resent),
              ],
            ],
          ),
        ].join('\n');
      } finally {
        await hub.close();
      }
    } finally {
      await scratch.cleanup();
    }
  },
};
