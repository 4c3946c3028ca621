import { statfsSync } from 'node:fs';
import type { DeviceTelemetry, Lane } from '../../shared/index.js';
import type { AgentStatus } from '../types.js';

/** Free and total bytes of the filesystem holding `dir`; null where `statfs` is unavailable. */
export function diskUsage(dir: string): DeviceTelemetry['disk'] {
  try {
    const s = statfsSync(dir);
    return { freeBytes: Number(s.bavail) * Number(s.bsize), totalBytes: Number(s.blocks) * Number(s.bsize) };
  } catch {
    return null;
  }
}

/**
 * Builds the body of a `telemetry.device` event from the agent's status,
 * the process and the store's filesystem. Pure apart from reading `process.memoryUsage()`.
 */
export function buildDeviceTelemetry(
  status: AgentStatus,
  at: number,
  disk: DeviceTelemetry['disk'],
  memory: NodeJS.MemoryUsage = process.memoryUsage(),
): DeviceTelemetry {
  const { cache } = status.inference;
  const lookups = cache.hits + cache.misses;
  const outbox: DeviceTelemetry['outbox'] = {};
  for (const [lane, counters] of Object.entries(status.outbox) as Array<
    [Lane, AgentStatus['outbox'][Lane]]
  >) {
    const ledger = status.ledger[lane];
    outbox[lane] = {
      depth: counters.pending,
      bytes: counters.pendingBytes,
      ledger: ledger ?? { quota: { count: 0, bytes: 0 }, ttl: { count: 0, bytes: 0 }, unconfirmed: 0 },
    };
  }
  return {
    at,
    uptimeS: Math.max(0, (at - status.startedAt) / 1000),
    profile: status.inference.profile.name,
    memory: { rssBytes: memory.rss, heapUsedBytes: memory.heapUsed },
    disk,
    engines: status.inference.models.map((m) => ({
      model: m.name,
      version: m.version,
      precision: m.precision,
      engine: m.engine,
    })),
    cache: { ...cache, hitRate: lookups === 0 ? null : cache.hits / lookups },
    outbox,
    link: {
      connects: status.link.connects,
      deadLinks: status.link.deadLinks,
      pingRttMs: status.link.pingRttMs,
    },
  };
}
