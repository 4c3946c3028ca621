import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { configInt, OutpostError } from '../../shared/index.js';

/**
 * Model delivery settings, `delivery` in the agent config. The hub's
 * public keys come from `trustedKeys` (PEM text) and `trustedKeyFiles` (PEM files, e.g. the
 * hub's `keys/signing-key.pub.pem`); several keys may be trusted at once so the hub's key can
 * rotate (print it with `outpost models keys`).
 */
export const DeliveryConfigSchema = z
  .strictObject({
    trustedKeys: z
      .array(z.string().includes('BEGIN PUBLIC KEY', { message: 'must be a PEM public key' }))
      .default([]),
    trustedKeyFiles: z.array(z.string().min(1)).default([]),
    /** The hub's HTTP URL for artifacts; `inference.hubHttpUrl` when absent. */
    hubHttpUrl: z.url({ protocol: /^https?$/ }).optional(),
    /** Download bandwidth cap, bytes/s; 0 (default) = none. */
    bandwidthBytesPerS: configInt().min(0).default(0),
    /** Download progress is made durable at least every this many bytes; default 1 MiB. */
    checkpointBytes: configInt()
      .min(4096)
      .default(1024 * 1024),
    /** Retry backoff of a failed download (full jitter, doubling), ms; defaults 1 s and 60 s. */
    retryMinMs: configInt().min(10).default(1000),
    retryMaxMs: configInt().min(10).default(60_000),
  })
  .prefault({});
export type DeliveryConfig = z.output<typeof DeliveryConfigSchema>;

/** Every trusted public key: the configured PEMs and the files' contents. Throws `AGENT_CONFIG_INVALID`. */
export function trustedKeysOf(config: DeliveryConfig): string[] {
  const keys = [...config.trustedKeys];
  for (const file of config.trustedKeyFiles) {
    try {
      keys.push(readFileSync(file, 'utf8'));
    } catch (err) {
      throw new OutpostError(
        'AGENT_CONFIG_INVALID',
        `delivery.trustedKeyFiles: cannot read ${file}: ${(err as Error).message}`,
      );
    }
  }
  return keys;
}
