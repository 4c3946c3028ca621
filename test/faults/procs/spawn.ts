import { type ChildProcess, spawn } from 'node:child_process';
import { openSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * A module of this repository as a node entry point: the compiled `.js` when the suite runs
 * from `dist/`, the `.ts` source (with tsx) when it runs from source. `relative` is written
 * without extension, relative to `test/faults/procs/`.
 */
export function entryPoint(relative: string): { file: string; execArgv: string[] } {
  const fromSource = import.meta.url.endsWith('.ts');
  const file = fileURLToPath(new URL(`${relative}${fromSource ? '.ts' : '.js'}`, import.meta.url));
  return { file, execArgv: fromSource ? ['--import', 'tsx'] : [] };
}

/** A child process with an IPC channel, its output appended to a log file. */
export interface Child<M> {
  readonly child: ChildProcess;
  readonly pid: number;
  /** Resolves with the exit code, or the name of the signal that ended it. */
  readonly exited: Promise<number | string>;
  /** Every IPC message, in order, to `onMessage` listeners. */
  onMessage(listener: (message: M) => void): () => void;
  /** Resolves with the first message `match` accepts; rejects if the process exits first or after `timeoutMs`. */
  waitMessage<T extends M>(match: (m: M) => m is T, what: string, timeoutMs: number): Promise<T>;
  /** Sends over IPC; false when the channel is gone (the process died). */
  send(message: unknown): boolean;
  /** SIGKILL, and waits for the exit. */
  kill9(): Promise<number | string>;
  /** True once the process has exited. */
  readonly dead: boolean;
}

/** Starts `node [execArgv] file args` with IPC; stdout and stderr go to `logFile`. */
export function spawnChild<M>(
  entry: { file: string; execArgv: string[] },
  args: readonly string[],
  options: { env?: Record<string, string>; logFile: string },
): Child<M> {
  const log = openSync(options.logFile, 'a');
  const child = spawn(process.execPath, [...entry.execArgv, entry.file, ...args], {
    env: { ...process.env, ...options.env },
    stdio: ['ignore', log, log, 'ipc'],
  });
  let dead = false;
  const exited = new Promise<number | string>((resolve) => {
    child.once('exit', (code, signal) => {
      dead = true;
      resolve(code ?? signal ?? 'unknown');
    });
  });
  const listeners = new Set<(message: M) => void>();
  child.on('message', (message) => {
    for (const listener of [...listeners]) listener(message as M);
  });
  const onMessage = (listener: (message: M) => void) => {
    listeners.add(listener);
    return () => listeners.delete(listener);
  };
  return {
    child,
    pid: child.pid ?? -1,
    exited,
    onMessage,
    get dead() {
      return dead;
    },
    waitMessage: <T extends M>(match: (m: M) => m is T, what: string, timeoutMs: number) =>
      new Promise<T>((resolve, reject) => {
        const timer = setTimeout(() => {
          off();
          reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; see ${options.logFile}`));
        }, timeoutMs);
        const off = onMessage((m) => {
          if (!match(m)) return;
          clearTimeout(timer);
          off();
          resolve(m);
        });
        void exited.then((code) => {
          clearTimeout(timer);
          off();
          reject(new Error(`process exited (${code}) while waiting for ${what}; see ${options.logFile}`));
        });
      }),
    send: (message) => {
      if (dead || !child.connected) return false;
      try {
        // With a callback, a channel that closes meanwhile is reported there, not thrown.
        return child.send(message as object, () => undefined);
      } catch {
        return false;
      }
    },
    kill9: () => {
      if (!dead) child.kill('SIGKILL');
      return exited;
    },
  };
}
