/**
 * A hub replica as a child process (`outpost hub`), so that a test can SIGKILL it
 * (kill one replica mid-work, the other takes over). Configured through env
 * `OUTPOST_HUB_*`; resolves once the hub announced it is ready over IPC.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { entryPoint } from '../helpers/paths.js';

const CLI = entryPoint('cli/main');

/** A running replica. */
export interface ReplicaProcess {
  http: string;
  child: ChildProcess;
  /** What it printed. */
  output(): string;
  kill(signal: NodeJS.Signals): Promise<void>;
}

/** Where a replica keeps its state and which broker it shares with the others. */
export interface ReplicaSetting {
  dataDir: string;
  adminToken: string;
  store: { url: string; schema: string };
  broker: { url: string; username: string; password: string; authDir: string };
}

/**
 * The env of a replica on a shared PostgreSQL schema behind an external broker: free ports,
 * warn logs, a 1 s lease (a killed replica's jobs move fast); `extra` adds or overrides.
 */
export function replicaEnv(s: ReplicaSetting, extra: Record<string, string> = {}): Record<string, string> {
  return {
    OUTPOST_HUB_DATA_DIR: s.dataDir,
    OUTPOST_HUB_ADMIN_TOKEN: s.adminToken,
    OUTPOST_HUB_HTTP__HOST: '127.0.0.1',
    OUTPOST_HUB_HTTP__PORT: '0',
    OUTPOST_HUB_MQTT__PORT: '0',
    OUTPOST_HUB_LOG_LEVEL: 'warn',
    OUTPOST_HUB_STORE__URL: s.store.url,
    OUTPOST_HUB_STORE__SCHEMA: s.store.schema,
    OUTPOST_HUB_STORE__LEASE_TTL_MS: '1000',
    OUTPOST_HUB_BROKER__URL: s.broker.url,
    OUTPOST_HUB_BROKER__USERNAME: s.broker.username,
    OUTPOST_HUB_BROKER__PASSWORD: s.broker.password,
    OUTPOST_HUB_BROKER__AUTH_DIR: s.broker.authDir,
    ...extra,
  };
}

/** Starts `outpost hub` with `env` (added to this process's env). */
export async function startReplicaProcess(env: Record<string, string>): Promise<ReplicaProcess> {
  const child = spawn(process.execPath, [...CLI.execArgv, CLI.file, 'hub'], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  let output = '';
  child.stdout?.on('data', (d) => {
    output += d;
  });
  child.stderr?.on('data', (d) => {
    output += d;
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const http = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`replica not ready in 60 s:\n${output}`)), 60_000);
    child.on('message', (m: { type?: string; http?: string }) => {
      if (m.type === 'ready' && typeof m.http === 'string') {
        clearTimeout(timer);
        resolve(m.http);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`replica exited with ${code} before it was ready:\n${output}`));
    });
  });
  return {
    http,
    child,
    output: () => output,
    kill: async (signal) => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
}
