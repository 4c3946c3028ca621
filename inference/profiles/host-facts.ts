import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { arch, platform } from 'node:os';
import { delimiter, join } from 'node:path';
import type { HostFacts } from '../../shared/index.js';

/** Where a CUDA runtime library usually lives (Jetson L4T, x86 CUDA toolkits, distro packages). */
const CUDART_DIRS = [
  '/usr/local/cuda/lib64',
  '/usr/local/cuda/targets/aarch64-linux/lib',
  '/usr/local/cuda/targets/x86_64-linux/lib',
  '/usr/lib/aarch64-linux-gnu',
  '/usr/lib/x86_64-linux-gnu',
  '/usr/lib64',
];

function readDeviceTreeModel(path: string): string | null {
  try {
    return readFileSync(path, 'utf8').replace(/\0+$/, '').trim() || null;
  } catch {
    return null;
  }
}

function anyFile(dir: string, test: (name: string) => boolean): boolean {
  try {
    return readdirSync(dir).some(test);
  } catch {
    return false;
  }
}

function onPath(command: string, env: NodeJS.ProcessEnv): string | undefined {
  return (env.PATH ?? '')
    .split(delimiter)
    .filter((dir) => dir !== '')
    .map((dir) => join(dir, command))
    .find((path) => existsSync(path));
}

/**
 * True when `nvidia-smi -L` (found on PATH) lists at least one GPU (`GPU 0: …`). A driver
 * utility with no device prints "No devices were found" and exits non-zero: not a GPU.
 */
function nvidiaSmiListsGpu(env: NodeJS.ProcessEnv): boolean {
  const smi = onPath('nvidia-smi', env);
  if (!smi) return false;
  try {
    const out = execFileSync(smi, ['-L'], { env, timeout: 5000, encoding: 'utf8', stdio: 'pipe' });
    return /^GPU \d+:/m.test(out);
  } catch {
    return false;
  }
}

/** Overridable locations, for tests. */
export interface HostProbeOptions {
  deviceTreeModelPath?: string;
  devDir?: string;
  libDirs?: readonly string[];
  env?: NodeJS.ProcessEnv;
}

/**
 * Gathers the facts profile detection uses: architecture, `/proc/device-tree/model`, and
 * CUDA facts (a `libcudart.so*` in the usual or `LD_LIBRARY_PATH` dirs, `/dev/nvidia*`
 * device nodes, a GPU listed by `nvidia-smi -L` when that is on PATH, with a 5 s limit).
 */
export function probeHostFacts(options: HostProbeOptions = {}): HostFacts {
  const env = options.env ?? process.env;
  const libDirs = [
    ...(options.libDirs ?? CUDART_DIRS),
    ...(env.LD_LIBRARY_PATH ?? '').split(':').filter(Boolean),
  ];
  return {
    runtime: 'node',
    arch: arch(),
    platform: platform(),
    deviceTreeModel: readDeviceTreeModel(options.deviceTreeModelPath ?? '/proc/device-tree/model'),
    cuda: {
      libcudart: libDirs.some((d) => anyFile(d, (n) => n.startsWith('libcudart.so'))),
      devNvidia: anyFile(options.devDir ?? '/dev', (n) => /^nvidia\d+$/.test(n)),
      nvidiaSmi: nvidiaSmiListsGpu(env),
    },
  };
}
