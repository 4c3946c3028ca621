/**
 * Hubs and agents of any release as child processes (`node CLI hub|agent … --json`), with
 * only the flags and config keys both releases understand. Output goes to a log file named
 * in every failure.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { openSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** Safety net for a process to print its start-up line (module loading under load included). */
const START_TIMEOUT_MS = 90_000;
/** Safety net for a SIGTERM'd process to close before it is SIGKILLed. */
const STOP_TIMEOUT_MS = 20_000;

/** A started process and what its `--json` start-up line said. */
export interface Started {
  child: ChildProcess;
  // biome-ignore lint/suspicious/noExplicitAny: the start-up line is JSON of either release
  line: any;
  logFile: string;
  stop(): Promise<void>;
}

/** Starts `node cli args` and resolves with its first stdout line that is a JSON object. */
export async function startCli(
  cli: string,
  args: readonly string[],
  env: Record<string, string>,
  logFile: string,
): Promise<Started> {
  const log = openSync(logFile, 'a');
  const child = spawn(process.execPath, [cli, ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', log],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let buffered = '';
  const line = await new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`no start-up line within ${START_TIMEOUT_MS} ms; see ${logFile}`)),
      START_TIMEOUT_MS,
    );
    child.stdout?.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('utf8');
      for (const l of buffered.split('\n')) {
        if (!l.startsWith('{')) continue;
        try {
          const parsed = JSON.parse(l);
          clearTimeout(timer);
          resolve(parsed);
          return;
        } catch {
          // not complete yet
        }
      }
    });
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`${cli} ${args[0]} exited before its start-up line; see ${logFile}`));
    });
  });
  return {
    child,
    line,
    logFile,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** A running hub: its URLs and admin token. */
export interface HubProcess extends Started {
  http: string;
  mqtt: string;
  token: string;
}

/** Starts a hub on loopback, free ports, data in `dataDir`. */
export async function startHubProcess(
  cli: string,
  dataDir: string,
  logDir: string,
  name: string,
): Promise<HubProcess> {
  const token = `compat-admin-token-${name}-0123456789`;
  const started = await startCli(
    cli,
    [
      'hub',
      '--data-dir',
      dataDir,
      '--http.host',
      '127.0.0.1',
      '--http.port',
      '0',
      '--mqtt.host',
      '127.0.0.1',
      '--mqtt.port',
      '0',
      '--log-level',
      'warn',
      '--json',
    ],
    { OUTPOST_HUB_ADMIN_TOKEN: token },
    join(logDir, `${name}.log`),
  );
  return { ...started, http: started.line.http, mqtt: started.line.mqtt, token };
}

/** A running agent: its device id and local API URL. */
export interface AgentProcess extends Started {
  api: string;
}

/** Starts an agent with a config file both releases read. */
export async function startAgentProcess(
  cli: string,
  config: Record<string, unknown>,
  logDir: string,
  name: string,
): Promise<AgentProcess> {
  const file = join(logDir, `${name}.json`);
  await writeFile(file, JSON.stringify(config), { mode: 0o600 });
  const started = await startCli(cli, ['agent', '--config', file, '--json'], {}, join(logDir, `${name}.log`));
  return { ...started, api: started.line.api };
}
