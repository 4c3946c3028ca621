import { type ChildProcess, spawn } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { freePort } from './mosquitto-process.js';
import { type NatsNode, natsNodeConf } from './nats-config.js';

/** One node of a cluster started by {@link startNatsCluster}. */
export interface NatsNodeProcess {
  readonly name: string;
  /** NATS clients: `nats://127.0.0.1:PORT`. */
  readonly natsUrl: string;
  /** MQTT for devices: `mqtt://127.0.0.1:PORT`. */
  readonly mqttUrl: string;
  /** Monitoring: `http://127.0.0.1:PORT`. */
  readonly monitorUrl: string;
  pid(): number | undefined;
  /** Everything it logged (last 200 kB). */
  log(): string;
  /** Whether the process is running. */
  alive(): boolean;
  /** SIGKILL: the node dies at once (no goodbye to clients or routes). */
  kill(): Promise<void>;
  /** Starts it again with the same config and store (after {@link kill}). */
  restart(): Promise<void>;
}

/** A local NATS cluster (tests and benchmarks; never the machine's own node on 4222). */
export interface NatsClusterProcess {
  readonly nodes: readonly NatsNodeProcess[];
  /** Every node's NATS URL, comma-separated (the hub's `--broker`). */
  readonly natsUrls: string;
  /** The folder holding the configs, `auth.conf` and the JetStream stores. */
  readonly dir: string;
  /** Path of the authorization include file every node reads. */
  readonly authFile: string;
  /** SIGHUP to every live node: they reread their config and `auth.conf`. */
  reload(): void;
  /** Stops every node (SIGKILL: the store is a test's temp dir). Idempotent. */
  close(): Promise<void>;
}

/** Options of {@link startNatsCluster}. */
export interface NatsClusterOptions {
  /** Folder for configs, stores and `auth.conf` (which must exist before the nodes start). */
  dir: string;
  /** Nodes; default 3. */
  size?: number;
  /** The nats-server binary; default `/usr/sbin/nats-server`. */
  bin?: string;
  /** Time for every node's `/healthz` to answer ok; default 30 s. */
  timeoutMs?: number;
  /** Replicas of the MQTT subscriptions' consumers (`NatsNodeOptions.mqttConsumerReplicas`). */
  consumerReplicas?: number;
}

async function healthy(monitorUrl: string): Promise<boolean> {
  try {
    const res = await fetch(`${monitorUrl}/healthz`, { signal: AbortSignal.timeout(2000) });
    await res.text();
    return res.ok;
  } catch {
    return false;
  }
}

/**
 * Starts `size` nats-server nodes on 127.0.0.1, each on four free ports (clients, routes, MQTT,
 * monitoring), routed to each other, JetStream stores under `dir`, all including
 * `dir/auth.conf`. Resolves once every node's `/healthz` answers ok (JetStream up and the
 * cluster's meta group formed); rejects with the logs otherwise, after killing what it started.
 */
export async function startNatsCluster(options: NatsClusterOptions): Promise<NatsClusterProcess> {
  const size = options.size ?? 3;
  const bin = options.bin ?? '/usr/sbin/nats-server';
  const timeoutMs = options.timeoutMs ?? 30_000;
  const dir = options.dir;
  const nodes: NatsNode[] = [];
  for (let i = 1; i <= size; i++) {
    nodes.push({
      name: `n${i}`,
      host: '127.0.0.1',
      clientPort: await freePort(),
      clusterPort: await freePort(),
      mqttPort: await freePort(),
      httpPort: await freePort(),
      storeDir: join(dir, `n${i}-js`),
    });
  }
  const routes = nodes.map((n) => `nats-route://127.0.0.1:${n.clusterPort}`);
  const procs: NatsNodeProcess[] = [];
  for (const node of nodes) {
    await mkdir(node.storeDir, { recursive: true });
    const conf = join(dir, `${node.name}.conf`);
    await writeFile(
      conf,
      natsNodeConf(node, {
        clusterName: 'outpost-test',
        routes: routes.filter((r) => !r.endsWith(`:${node.clusterPort}`)),
        authFile: 'auth.conf',
        pidFile: join(dir, `${node.name}.pid`),
        maxFileStore: 256 * 1024 * 1024,
        ...(options.consumerReplicas === undefined ? {} : { mqttConsumerReplicas: options.consumerReplicas }),
      }),
    );
    procs.push(nodeProcess(node, conf, bin));
  }
  for (const p of procs) await p.restart();
  const cluster: NatsClusterProcess = {
    nodes: procs,
    natsUrls: procs.map((p) => p.natsUrl).join(','),
    dir,
    authFile: join(dir, 'auth.conf'),
    reload: () => {
      for (const p of procs) {
        const pid = p.pid();
        if (p.alive() && pid !== undefined) process.kill(pid, 'SIGHUP');
      }
    },
    close: async () => {
      await Promise.all(procs.map((p) => p.kill()));
    },
  };
  const deadline = Date.now() + timeoutMs;
  for (const p of procs) {
    while (!(await healthy(p.monitorUrl))) {
      if (!p.alive() || Date.now() > deadline) {
        const logs = procs.map((n) => `--- ${n.name}\n${n.log().slice(-3000)}`).join('\n');
        await cluster.close();
        throw new Error(`the NATS cluster did not become healthy within ${timeoutMs} ms:\n${logs}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  return cluster;
}

function nodeProcess(node: NatsNode, conf: string, bin: string): NatsNodeProcess {
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  let output = '';
  const collect = (d: Buffer) => {
    output = (output + d.toString()).slice(-200_000);
  };
  const alive = () => child !== undefined && child.exitCode === null && child.signalCode === null;
  return {
    name: node.name,
    natsUrl: `nats://127.0.0.1:${node.clientPort}`,
    mqttUrl: `mqtt://127.0.0.1:${node.mqttPort}`,
    monitorUrl: `http://127.0.0.1:${node.httpPort}`,
    pid: () => child?.pid,
    log: () => output,
    alive,
    async kill() {
      if (!alive()) return;
      const c = child as ChildProcess;
      c.kill('SIGKILL');
      await exited;
    },
    async restart() {
      if (alive()) return;
      const c = spawn(bin, ['-c', conf], { stdio: ['ignore', 'pipe', 'pipe'] });
      child = c;
      c.stdout?.on('data', collect);
      c.stderr?.on('data', collect);
      exited = new Promise<void>((resolve) => c.once('exit', () => resolve()));
      await new Promise<void>((resolve, reject) => {
        c.once('spawn', () => resolve());
        c.once('error', reject);
      });
    },
  };
}
