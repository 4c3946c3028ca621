import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { entryPoint } from '../lib/entry-point.js';

const CLI = entryPoint('../../cli/main');

/** Resident set size of a process, bytes (Linux `/proc/PID/status`), or NaN elsewhere. */
export function rssOf(pid: number | undefined): number {
  if (pid === undefined) return Number.NaN;
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) * 1024 : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

/** CPU time (user + system) a process used so far, ms (Linux `/proc/PID/stat`), or NaN elsewhere. */
export function cpuMsOf(pid: number | undefined): number {
  if (pid === undefined) return Number.NaN;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command (which may hold spaces): state is field 3, utime 14, stime 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
  } catch {
    return Number.NaN;
  }
}

/** `outpost hub` in a child process (so its memory is its own), configured by env. */
export async function startHubProcess(env: Record<string, string>): Promise<{
  http: string;
  mqtt: string;
  child: ChildProcess;
  stop(): Promise<void>;
  /** SIGKILL: the hub dies at once, mid-work (reported as intended, not as a crash). */
  kill(): Promise<void>;
}> {
  // OUTPOST_BENCH_HUB_PROF_DIR=dir: a V8 CPU profile of the hub per run (`--cpu-prof`).
  const profDir = process.env.OUTPOST_BENCH_HUB_PROF_DIR;
  const prof = profDir ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : [];
  const child = spawn(process.execPath, [...prof, ...CLI.execArgv, CLI.file, 'hub'], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  // Its log (stdout, at the level the env sets) and stderr, the last 20 kB, for the error
  // that says why it stopped.
  let errors = '';
  const keep = (d: Buffer) => {
    errors = (errors + d).slice(-20_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const ready = await new Promise<{ http: string; mqtt: string }>((resolve, reject) => {
    child.on('message', (m: { type?: string; http?: string; mqtt?: string }) => {
      if (m.type === 'ready') resolve({ http: m.http ?? '', mqtt: m.mqtt ?? '' });
    });
    child.once('exit', (code) => reject(new Error(`hub exited with ${code}: ${errors}`)));
  });
  let stopping = false;
  child.once('exit', (code, signal) => {
    // A hub dying mid-run would otherwise leave the devices waiting silently.
    if (!stopping) console.error(`bench: the hub exited mid-run (${code ?? signal}): ${errors}`);
  });
  return {
    ...ready,
    child,
    stop: async () => {
      stopping = true;
      child.kill('SIGTERM');
      await exited;
    },
    kill: async () => {
      stopping = true;
      child.kill('SIGKILL');
      await exited;
    },
  };
}
