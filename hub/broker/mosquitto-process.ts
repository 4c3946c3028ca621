import { type ChildProcess, spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { mosquittoConf } from './mosquitto-config.js';

/** A Mosquitto started by {@link startMosquitto}. */
export interface MosquittoProcess {
  /** The devices' listener. */
  url: string;
  port: number;
  /** The hub replicas' listener (only the hub user may log in there). */
  hubUrl: string;
  pid: number | undefined;
  /** Everything it logged (stdout and stderr). */
  log(): string;
  /** SIGHUP: Mosquitto rereads its password file and ACL. */
  reload(): void;
  stop(): Promise<void>;
}

/** A free TCP port on 127.0.0.1 (listen on 0, read it, close). */
export async function freePort(): Promise<number> {
  for (;;) {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    await new Promise<void>((resolve) => server.close(() => resolve()));
    // The kernel may hand a port it just gave back out again: never the same one twice here.
    if (!handedOut.has(port)) {
      handedOut.add(port);
      return port;
    }
  }
}

const handedOut = new Set<number>();

/**
 * Runs a local Mosquitto (tests and the fleet benchmark; never the machine's own
 * broker) on two free 127.0.0.1 ports (devices, hub) with the files `writeBrokerAuth` wrote,
 * writing `dir/local-mosquitto.conf`. Resolves once it answers CONNECT (an anonymous one is
 * refused as not authorized, which proves it is up and enforcing auth); rejects with its log
 * when it exits or stays silent for `timeoutMs` (default 20 s).
 */
export async function startMosquitto(dir: string, bin = '/usr/sbin/mosquitto', timeoutMs = 20_000) {
  const port = await freePort();
  const hubPort = await freePort();
  const conf = join(dir, 'local-mosquitto.conf');
  // As root, Mosquitto would drop to the `mosquitto` user, who cannot read the 0600 files.
  const asRoot = process.getuid?.() === 0 ? 'user root\n' : '';
  await writeFile(
    conf,
    `${mosquittoConf(dir, { devices: { host: '127.0.0.1', port }, hub: { host: '127.0.0.1', port: hubPort } })}${asRoot}log_dest stdout\n`,
  );
  const child: ChildProcess = spawn(bin, ['-c', conf], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const collect = (d: Buffer) => {
    output = (output + d.toString()).slice(-100_000);
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `mqtt://127.0.0.1:${port}`;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`mosquitto exited: ${output}`);
    try {
      const c = await mqtt.connectAsync(url, { reconnectPeriod: 0, connectTimeout: 2000 }, false);
      await c.endAsync(true);
      break;
    } catch (err) {
      if (/Not authorized|Bad username/i.test(String((err as Error).message))) break;
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`mosquitto did not answer within ${timeoutMs} ms: ${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const process_: MosquittoProcess = {
    url,
    port,
    hubUrl: `mqtt://127.0.0.1:${hubPort}`,
    pid: child.pid,
    log: () => output,
    reload: () => child.kill('SIGHUP'),
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
  return process_;
}
