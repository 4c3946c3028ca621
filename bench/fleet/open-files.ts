import { execFileSync } from 'node:child_process';
import type { FleetMode } from './stack.js';

/** Descriptors a process needs besides the devices' sockets (pipes, files, HTTP, the hub's links). */
const OTHER_FILES = 512;

/** This process's limit on open files (`ulimit -n`), which its children inherit; undefined where unreadable. */
export function openFilesLimit(): number | undefined {
  try {
    const text = execFileSync('sh', ['-c', 'ulimit -n'], { encoding: 'utf8' }).trim();
    return text === 'unlimited' ? Number.POSITIVE_INFINITY : Number(text) || undefined;
  } catch {
    return undefined;
  }
}

/** The process of a run holding the most device sockets, and how many. */
function busiestProcess(
  mode: FleetMode,
  devices: number,
): { where: string; sockets: number; instead: string } {
  if (mode === 'embedded')
    return {
      where: 'the hub process (the embedded broker holds every device socket)',
      sockets: devices,
      instead: ', or use --broker nats, whose three nodes share the devices',
    };
  if (mode === 'mosquitto')
    return {
      where: 'the Mosquitto process (it holds every device socket)',
      sockets: devices,
      instead: ', or use --broker nats, whose three nodes share the devices',
    };
  // Round-robin over three nodes; the devices of the killed first node all move to the second.
  return {
    where: 'the NATS node that takes over the killed node’s devices',
    sockets: 2 * Math.ceil(devices / 3),
    instead: '',
  };
}

/**
 * Refuses a fleet that some process of the run cannot hold: each device is one socket in its
 * device shard (at most `perProcess` devices each) and one in the broker process that serves
 * it, and each must fit under `ulimit -n` (inherited by every process the bench starts); past
 * it the run would fail part way with EMFILE.
 */
export function checkOpenFiles(
  modes: readonly FleetMode[],
  devices: number,
  perProcess: number,
  limit = openFilesLimit(),
): void {
  if (limit === undefined) return;
  const shard = Math.min(devices, perProcess);
  const busiest = [
    {
      where: `each device shard process (--devices-per-process ${perProcess})`,
      sockets: shard,
      instead: ', or lower --devices-per-process',
    },
    ...modes.map((m) => busiestProcess(m, devices)),
  ];
  for (const p of busiest) {
    const need = p.sockets + OTHER_FILES;
    if (need <= limit) continue;
    throw new Error(
      `fleet: --devices ${devices} needs about ${need} open files in ${p.where}, and ulimit -n is ` +
        `${limit} here: raise it (ulimit -n ${need}, within the hard limit ulimit -Hn), run fewer ` +
        `devices${p.instead}`,
    );
  }
}
