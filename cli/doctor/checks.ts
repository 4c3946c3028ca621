import { existsSync, readdirSync, readFileSync, statfsSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { LOCK_FILE } from '../data-dir-lock.js';

/** One finding of `outpost doctor`: ok, warn (works, but look) or fail (will not work), with the fix. */
export interface Check {
  status: 'ok' | 'warn' | 'fail';
  name: string;
  detail: string;
  fix?: string;
}

export const ok = (name: string, detail: string): Check => ({ status: 'ok', name, detail });
export const warn = (name: string, detail: string, fix: string): Check => ({
  status: 'warn',
  name,
  detail,
  fix,
});
export const fail = (name: string, detail: string, fix: string): Check => ({
  status: 'fail',
  name,
  detail,
  fix,
});

const MIB = 1024 * 1024;

/** The pid holding the data dir's lock, when that process still runs. */
export function lockHolder(dataDir: string): number | undefined {
  try {
    const pid = Number(readFileSync(join(resolve(dataDir), LOCK_FILE), 'utf8').split(' ')[0]);
    if (!Number.isInteger(pid) || pid <= 0) return undefined;
    process.kill(pid, 0);
    return pid;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM' ? -1 : undefined;
  }
}

/** Data dir: exists (or will be created), owner-only permissions, free space. */
export function dataDirChecks(dataDir: string, minFreeMiB = 100, warnFreeMiB = 1024): Check[] {
  const dir = resolve(dataDir);
  if (!existsSync(dir)) return [ok('data dir', `${dir} does not exist yet; it is created at first start`)];
  const out: Check[] = [];
  const mode = statSync(dir).mode & 0o777;
  out.push(
    (mode & 0o077) === 0
      ? ok('data dir permissions', `${dir} is ${mode.toString(8)}`)
      : warn(
          'data dir permissions',
          `${dir} is ${mode.toString(8)}: other users can read secrets and keys`,
          `chmod 700 ${dir}`,
        ),
  );
  const fs = statfsSync(dir);
  const freeMiB = Math.floor((fs.bavail * fs.bsize) / MIB);
  out.push(
    freeMiB < minFreeMiB
      ? fail('disk space', `${freeMiB} MiB free under ${dir}`, 'free space or move the data dir (--data-dir)')
      : freeMiB < warnFreeMiB
        ? warn(
            'disk space',
            `${freeMiB} MiB free under ${dir}`,
            'free space before models and events fill it',
          )
        : ok('disk space', `${freeMiB} MiB free under ${dir}`),
  );
  return out;
}

/** Whether `port` on `host` can be listened on now. */
export function portFree(host: string, port: number): Promise<boolean> {
  return new Promise((done) => {
    const server = createServer();
    server.once('error', () => done(false));
    server.listen({ host, port, exclusive: true }, () => server.close(() => done(true)));
  });
}

/** A port check: free, held by this data dir's running process, or taken by another. */
export async function portCheck(
  name: string,
  host: string,
  port: number,
  holder: number | undefined,
): Promise<Check> {
  if (port === 0) return ok(name, 'a free port is picked at start (0)');
  if (await portFree(host, port)) return ok(name, `${host}:${port} is free`);
  if (holder !== undefined)
    return ok(name, `${host}:${port} is in use, by the process running on this data dir (pid ${holder})`);
  return fail(
    name,
    `${host}:${port} is in use by another process`,
    `stop it or choose another port (--${name})`,
  );
}

/** Engines this host could run besides the CPU: CUDA libraries and devices, a Vulkan driver. */
export function engineChecks(): Check[] {
  const libDirs = [
    '/usr/lib/x86_64-linux-gnu',
    '/usr/lib/aarch64-linux-gnu',
    '/usr/local/cuda/lib64',
    '/usr/lib64',
  ];
  const has = (file: string) => libDirs.some((d) => existsSync(join(d, file)));
  const cudaLib = has('libcuda.so.1') || has('libcuda.so');
  const cudaDevice = existsSync('/dev/nvidia0');
  const vulkan = ['/usr/share/vulkan/icd.d', '/etc/vulkan/icd.d'].some(
    (d) => existsSync(d) && statSync(d).isDirectory() && readdirNonEmpty(d),
  );
  return [
    cudaLib && cudaDevice
      ? ok('cuda', 'libcuda and /dev/nvidia0 present')
      : ok(
          'cuda',
          `not available here (${cudaLib ? 'no /dev/nvidia0' : 'no libcuda'}): CUDA engines are rejected, CPU runs`,
        ),
    vulkan
      ? ok('vulkan', 'a Vulkan driver (ICD) is installed')
      : ok('vulkan', 'no Vulkan driver (ICD): WebGPU engines are rejected, CPU runs'),
  ];
}

function readdirNonEmpty(dir: string): boolean {
  try {
    return readdirSync(dir).length > 0;
  } catch {
    return false;
  }
}

/** Prints the checks as a table and returns the exit code: 1 when any failed. */
export function report(checks: readonly Check[], print: (line: string) => void = console.log): number {
  const width = Math.max(...checks.map((c) => c.name.length));
  for (const c of checks) {
    print(
      `${c.status.padEnd(4)}  ${c.name.padEnd(width)}  ${c.detail}${c.fix ? `\n${' '.repeat(width + 8)}fix: ${c.fix}` : ''}`,
    );
  }
  const failed = checks.filter((c) => c.status === 'fail').length;
  const warned = checks.filter((c) => c.status === 'warn').length;
  print(`${failed} failed, ${warned} warnings, ${checks.length - failed - warned} ok`);
  return failed > 0 ? 1 : 0;
}
