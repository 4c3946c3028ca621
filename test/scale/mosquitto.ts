/**
 * A Mosquitto of the test's own (issue 8): `/usr/sbin/mosquitto -c DIR/mosquitto.conf` on a
 * free port with the auth files the hub generates. The machine's broker on 1883 is never
 * touched. Skip reasons are returned, not thrown, when the binary is missing.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { mosquittoConf } from '../../hub/broker/mosquitto-config.js';
import { waitFor } from '../helpers/hub.js';

/** The Mosquitto binary the tests run. */
export const MOSQUITTO_BIN = process.env.OUTPOST_TEST_MOSQUITTO ?? '/usr/sbin/mosquitto';

/** Undefined when Mosquitto can run here, else why not. */
export function mosquittoSkip(): string | undefined {
  return existsSync(MOSQUITTO_BIN) ? undefined : `no Mosquitto binary at ${MOSQUITTO_BIN}`;
}

/** A free TCP port on 127.0.0.1 (listen on 0, read it, close). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** A running test Mosquitto. */
export interface TestMosquitto {
  url: string;
  port: number;
  /** Everything it logged (stdout and stderr). */
  log(): string;
  /** SIGHUP: Mosquitto rereads its password file and ACL. */
  reload(): void;
  stop(): Promise<void>;
}

/**
 * Starts Mosquitto with `dir/passwd` and `dir/acl` (which must exist), writing its
 * `mosquitto.conf` into `dir`. Resolves once it accepts TCP connections (an anonymous
 * connect is refused, which proves it is up and enforcing auth).
 */
export async function startMosquitto(dir: string): Promise<TestMosquitto> {
  const port = await freePort();
  const conf = join(dir, 'test-mosquitto.conf');
  // As root, Mosquitto would drop to the `mosquitto` user, who cannot read the 0600 files.
  const asRoot = process.getuid?.() === 0 ? 'user root\n' : '';
  await writeFile(
    conf,
    `${mosquittoConf(dir, { host: '127.0.0.1', port })}${asRoot}log_dest stdout\nlog_type all\n`,
  );
  const child: ChildProcess = spawn(MOSQUITTO_BIN, ['-c', conf], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (d) => {
    output += d;
  });
  child.stderr?.on('data', (d) => {
    output += d;
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `mqtt://127.0.0.1:${port}`;
  await waitFor(
    async () => {
      if (child.exitCode !== null) throw new Error(`mosquitto exited: ${output}`);
      try {
        const c = await mqtt.connectAsync(url, { reconnectPeriod: 0, connectTimeout: 2000 });
        await c.endAsync(true);
        return true;
      } catch (err) {
        return /Not authorized|Bad username/i.test(String((err as Error).message));
      }
    },
    'mosquitto to listen',
    20_000,
  );
  return {
    url,
    port,
    log: () => output,
    reload: () => child.kill('SIGHUP'),
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}
