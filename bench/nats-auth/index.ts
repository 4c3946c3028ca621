import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';
import { NATS_BCRYPT_COST } from '../../hub/broker/broker-hashes.js';
import { writeNatsAuth } from '../../hub/broker/nats-config.js';
import { startNatsCluster } from '../../hub/broker/nats-process.js';
import { machine, table } from '../lib/report.js';
import type { Benchmark } from '../lib/types.js';

/**
 * How long the hub's NATS authorization takes to change at fleet sizes: writing `auth.conf`
 * for N device users (what every enrollment, removal, disable and rotation does) and a
 * three-node cluster's reload of it (SIGHUP until every node logged that the reload is done).
 */
export const natsAuthBenchmark: Benchmark = {
  description: 'NATS auth.conf regeneration and cluster reload at 10,000 and 100,000 device users',
  async run({ quick, progress }) {
    const sizes = quick ? [1_000, 10_000] : [10_000, 100_000];
    const dir = await mkdtemp(join(tmpdir(), 'outpost-bench-nats-'));
    // One bcrypt hash for every user: hashing is done once per device at enrollment, not here.
    const hash = await bcrypt.hash('a-device-secret-of-43-characters-xxxxxxxxxx', NATS_BCRYPT_COST);
    const hub = { username: 'outpost-hub', hash: await bcrypt.hash('hub-password-for-the-bench', 4) };
    const rows: string[][] = [];
    await writeNatsAuth(dir, { hub, devices: [] });
    const cluster = await startNatsCluster({ dir, size: 3 });
    try {
      const reloads = () =>
        cluster.nodes.map((node) => node.log().split('Reloaded server configuration').length);
      for (const n of sizes) {
        const devices = Array.from({ length: n }, (_, i) => ({
          deviceId: `dev-${i.toString().padStart(6, '0')}`,
          hash,
        }));
        const t0 = performance.now();
        const path = await writeNatsAuth(dir, { hub, devices });
        const writeMs = performance.now() - t0;
        const bytes = (await stat(path)).size;
        const before = reloads();
        const t1 = performance.now();
        cluster.reload();
        // Each node logs "Reloaded server configuration" once the new users are in force.
        while (!reloads().every((count, i) => count > (before[i] ?? 0))) {
          if (performance.now() - t1 > 120_000) throw new Error('the nodes did not reload within 120 s');
          await new Promise((resolve) => setTimeout(resolve, 2));
        }
        const reloadMs = performance.now() - t1;
        progress(`${n} users: write ${writeMs.toFixed(0)} ms, reload ${reloadMs.toFixed(0)} ms`);
        rows.push([
          n.toLocaleString('en-US'),
          `${(bytes / 1024 / 1024).toFixed(1)} MiB`,
          writeMs.toFixed(0),
          reloadMs.toFixed(0),
          (writeMs + reloadMs).toFixed(0),
        ]);
      }
    } finally {
      await cluster.close();
      await rm(dir, { recursive: true, force: true });
    }
    return [
      table(['device users', 'auth.conf', 'write ms', 'reload ms (3 nodes)', 'total ms'], rows),
      '',
      'reload ms: SIGHUP to the three nodes at once until each one logged "Reloaded server configuration".',
      `Machine: ${machine()}; nats-server at /usr/sbin/nats-server.`,
    ].join('\n');
  },
};
