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

function onPath(command: string, env: NodeJS.ProcessEnv): boolean {
  return (env.PATH ?? '').split(delimiter).some((dir) => dir !== '' && existsSync(join(dir, command)));
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
 * CUDA evidence (a `libcudart.so*` in the usual or `LD_LIBRARY_PATH` dirs, `/dev/nvidia*`
 * device nodes, `nvidia-smi` on PATH). Reads files only; runs nothing.
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
      nvidiaSmi: onPath('nvidia-smi', env),
    },
  };
}
