import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { type AgentConfig, type AgentConfigInput, AgentConfigSchema } from '../../agent/index.js';
import { buildHub, type Hub, HubConfigSchema } from '../../hub/index.js';

/** The body every benchmark event carries (≈ 90 bytes of JSON, a typical sensor reading). */
export function readingBody(i: number): { sensor: string; celsius: number; i: number; note: string } {
  return { sensor: 'temp-01', celsius: 20 + (i % 100) / 10, i, note: 'benchmark reading, fixed size' };
}

/** Envelope bytes cap per event and batch, as configured by default (128 KiB). */
export const BATCH_MAX_BYTES = 128 * 1024;

/** Temporary directories, removed by {@link Scratch.cleanup}. */
export class Scratch {
  readonly #dirs: string[] = [];

  /** A fresh empty directory. */
  async dir(prefix = 'outpost-bench-'): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), prefix));
    this.#dirs.push(dir);
    return dir;
  }

  async cleanup(): Promise<void> {
    await Promise.all(this.#dirs.map((d) => rm(d, { recursive: true, force: true })));
  }
}

/** A real hub on loopback, free ports, silent. */
export async function benchHub(dataDir: string): Promise<Hub> {
  return buildHub(
    HubConfigSchema.parse({
      dataDir,
      logLevel: 'silent',
      http: { host: '127.0.0.1', port: 0 },
      mqtt: { host: '127.0.0.1', port: 0 },
    }),
  );
}

/** Enrolls a device through the hub's HTTP API; returns its credentials. */
export async function enroll(hub: Hub): Promise<{ id: string; secret: string }> {
  const res = await fetch(`${hub.http.url}/v1/devices`, {
    method: 'POST',
    headers: { authorization: `Bearer ${hub.adminToken}`, 'content-type': 'application/json' },
    body: '{}',
  });
  if (res.status !== 201) throw new Error(`enrollment failed: ${res.status} ${await res.text()}`);
  return (await res.json()) as { id: string; secret: string };
}

/** An agent config for the benchmarks: silent, API on a free port, defaults otherwise. */
export function agentConfig(
  input: Pick<AgentConfigInput, 'deviceId' | 'deviceSecret' | 'dataDir'> & Partial<AgentConfigInput>,
): AgentConfig {
  return AgentConfigSchema.parse({ api: { port: 0 }, logLevel: 'silent', ...input });
}

/** A logger that writes nothing. */
export const silent = () => pino({ level: 'silent' });
