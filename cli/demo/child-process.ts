import { type ChildProcess, spawn } from 'node:child_process';
import { openSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The `outpost` entry point next to this file, and the node flags needed to run it. */
function entryPoint(): { file: string; execArgv: string[] } {
  const fromSource = import.meta.url.endsWith('.ts');
  const file = fileURLToPath(new URL(fromSource ? '../main.ts' : '../main.js', import.meta.url));
  return { file, execArgv: fromSource ? ['--import', 'tsx'] : [] };
}

/** The message a hub or agent process sends over IPC once it listens. */
export interface ReadyMessage {
  type: 'ready';
  pid: number;
  [key: string]: unknown;
}

/** A running `outpost` child process. */
export interface OutpostProcess {
  readonly child: ChildProcess;
  /** Resolves with the ready message; rejects if the process exits first or times out. */
  readonly ready: Promise<ReadyMessage>;
  /** Resolves with the exit code (or the signal's name) when the process ends. */
  readonly exited: Promise<number | string>;
}

/**
 * Starts `outpost ARGS` as a separate process, its stdout and stderr appended to `logFile`,
 * with an IPC channel on which it announces readiness.
 */
export function spawnOutpost(
  args: readonly string[],
  options: {
    env?: Record<string, string>;
    logFile: string;
    readyTimeoutMs?: number;
    /** In a process group of its own (a launcher: killed together with its agent). */
    detached?: boolean;
  },
): OutpostProcess {
  const { file, execArgv } = entryPoint();
  const log = openSync(options.logFile, 'a');
  const child = spawn(process.execPath, [...execArgv, file, ...args], {
    env: { ...process.env, ...options.env },
    stdio: ['ignore', log, log, 'ipc'],
    ...(options.detached ? { detached: true } : {}),
  });
  const exited = new Promise<number | string>((resolve) => {
    child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown'));
  });
  const ready = new Promise<ReadyMessage>((resolve, reject) => {
    const timer = setTimeout(
      () =>
        reject(
          new Error(
            `outpost ${args[0]} not ready after ${options.readyTimeoutMs ?? 60_000} ms; see ${options.logFile}`,
          ),
        ),
      options.readyTimeoutMs ?? 60_000,
    );
    child.on('message', (message: unknown) => {
      if ((message as ReadyMessage | undefined)?.type === 'ready') {
        clearTimeout(timer);
        resolve(message as ReadyMessage);
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`outpost ${args[0]} exited (${code}) before it was ready; see ${options.logFile}`));
    });
  });
  ready.catch(() => undefined);
  return { child, ready, exited };
}

/** Sends SIGTERM and waits for the exit; SIGKILL after `graceMs`. */
export async function stopProcess(proc: OutpostProcess, graceMs = 5000): Promise<number | string> {
  if (proc.child.exitCode !== null || proc.child.signalCode !== null) return proc.exited;
  proc.child.kill('SIGTERM');
  const timer = setTimeout(() => proc.child.kill('SIGKILL'), graceMs);
  const code = await proc.exited;
  clearTimeout(timer);
  return code;
}
